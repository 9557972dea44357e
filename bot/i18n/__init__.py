"""Translations and brand-zone times for everything people read (issue 17).

Texts are written in English in the code and templates and translated through gettext
catalogues (`locales/<locale>/LC_MESSAGES/*.po`, read at load, no compiled files). The locale of
the moment lives in a context variable: the web middleware sets it per request (the user's
setting, then the browser, then the brand's default), `use_locale` sets it elsewhere (staff
messages, reports, the CLI)."""

from bot.i18n.catalog import (
    N_,
    gettext,
    lazy_gettext,
    lazy_pgettext,
    ngettext,
    npgettext,
    pgettext,
    translations,
)
from bot.i18n.labels import (
    audit_action_label,
    channel_label,
    draft_status_label,
    flag_label,
    incident_status_label,
    language_label,
    post_status_label,
    proposal_status_label,
    role_label,
    stage_help,
    stage_label,
    subtype_label,
    type_label,
    via_label,
)
from bot.i18n.locale import (
    DEFAULT_LOCALE,
    LOCALES,
    choose,
    configure,
    current_locale,
    current_zone,
    html_lang,
    locale_name,
    negotiate,
    supported,
    use_locale,
)
from bot.i18n.times import ago, clock, localdate, localtime, stamp, to_local, zone_label

_ = gettext

__all__ = [
    "DEFAULT_LOCALE",
    "LOCALES",
    "N_",
    "_",
    "ago",
    "audit_action_label",
    "channel_label",
    "draft_status_label",
    "choose",
    "clock",
    "configure",
    "flag_label",
    "incident_status_label",
    "current_locale",
    "current_zone",
    "gettext",
    "html_lang",
    "language_label",
    "lazy_gettext",
    "lazy_pgettext",
    "localdate",
    "locale_name",
    "localtime",
    "negotiate",
    "ngettext",
    "npgettext",
    "pgettext",
    "post_status_label",
    "proposal_status_label",
    "role_label",
    "stamp",
    "stage_help",
    "stage_label",
    "subtype_label",
    "supported",
    "to_local",
    "translations",
    "type_label",
    "use_locale",
    "via_label",
    "zone_label",
]
