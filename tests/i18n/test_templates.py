"""Templates translate when rendered, not when compiled."""

from jinja2 import DictLoader, Environment

from bot import i18n
from bot.i18n.jinja import install


def test_a_label_of_a_constant_follows_each_renders_language():
    env = install(
        Environment(loader=DictLoader({"t": '{{ "crisis"|flag_label }} {{ _("Log out") }}'}))
    )
    with i18n.use_locale("zh_Hant_TW"):
        assert env.get_template("t").render() == "危機 登出"
    with i18n.use_locale("en"):
        assert env.get_template("t").render() == "crisis Log out"
