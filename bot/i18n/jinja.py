"""Puts gettext and the time and label filters into a Jinja environment (every one we build)."""

from __future__ import annotations

from functools import wraps

from jinja2 import Environment, pass_context

from bot.i18n import catalog, labels, locale, times


def _at_render(helper):
    """Jinja folds a filter on a constant ({{ "crisis"|flag_label }}) once, at compile time, in
    whatever language was current then; a filter taking the context is left to render."""

    @pass_context
    @wraps(helper)
    def call(_context, *args, **kwargs):
        return helper(*args, **kwargs)

    return call


def install(env: Environment) -> Environment:
    env.add_extension("jinja2.ext.i18n")
    env.policies["ext.i18n.trimmed"] = True  # as extracted: {% trans %} blocks' whitespace folded
    env.install_gettext_callables(  # type: ignore[attr-defined]
        catalog.gettext,
        catalog.ngettext,
        newstyle=True,
        pgettext=catalog.pgettext,
        npgettext=catalog.npgettext,
    )
    helpers = dict(
        localtime=times.localtime,
        localdate=times.localdate,
        clock=times.clock,
        ago=times.ago,
        stage_label=labels.stage_label,
        stage_help=labels.stage_help,
        type_label=labels.type_label,
        subtype_label=labels.subtype_label,
        draft_source_label=labels.draft_source_label,
        language_label=labels.language_label,
        role_label=labels.role_label,
        channel_label=labels.channel_label,
        flag_label=labels.flag_label,
        audit_action_label=labels.audit_action_label,
        via_label=labels.via_label,
        proposal_status_label=labels.proposal_status_label,
        draft_status_label=labels.draft_status_label,
    )
    helpers = {name: _at_render(helper) for name, helper in helpers.items()}
    env.filters.update(helpers)  # {{ m.stage | stage_label }}
    env.globals.update(helpers)  # or {{ stage_label(m.stage) }}
    env.globals.update(
        current_locale=locale.current_locale,
        html_lang=locale.html_lang,
        zone_label=times.zone_label,
        locales=[(code, locale.locale_name(code)) for code in locale.LOCALES],
    )
    return env
