"""Building the portal app: compiled templates shared, URL builders compiled lazily."""

from __future__ import annotations

from jinja2 import DictLoader, Environment
from werkzeug.routing import Map, Rule

from portal import _COMPILED, create_app
from portal.params import IdConverter, PortalRule


def test_an_edited_template_is_compiled_again_by_the_next_app() -> None:
    sources = {"page.html": "Balance {{ amount }}"}

    def render() -> str:  # a new environment, as each new app has
        env = Environment(
            loader=DictLoader(sources), bytecode_cache=_COMPILED, autoescape=True
        )
        return env.get_template("page.html").render(amount="12.50")

    assert render() == "Balance 12.50"
    assert render() == "Balance 12.50"  # from the shared cache
    sources["page.html"] = "Owed {{ amount }}"
    assert render() == "Owed 12.50"


def test_every_portal_url_builds_as_werkzeug_builds_it(portal_settings, store) -> None:  # type: ignore[no-untyped-def]
    app = create_app(portal_settings, store=store)
    rules = [r for r in app.url_map.iter_rules() if isinstance(r, PortalRule)]
    assert len(rules) > 50
    eager = Map(converters={"id": IdConverter})
    pairs = []
    for rule in rules:
        twin = Rule(rule.rule, endpoint=rule.endpoint, defaults=rule.defaults)
        eager.add(twin)
        pairs.append((rule, twin))
    for rule, twin in pairs:
        for value in (7, "xero"):  # ids, and the names an any() converter takes
            values = {name: value for name in rule.arguments} | {"page": 2}
            for unknown in (False, True, True):  # the second build reuses the first
                assert _built(rule, values, unknown) == _built(twin, values, unknown)


def _built(rule: Rule, values: dict, append_unknown: bool) -> object:
    """The URL *rule* builds, or the kind of error building it raises."""
    try:
        return rule.build(values, append_unknown)
    except Exception as exc:  # the same refusal from both is the same behaviour
        return type(exc).__name__
