"""The gateway's HTML pages (the inbox, the email answer links) share one way to load their
Jinja2 templates: shipped in the package, autoescaped so every value from a request is text on
the page, never markup, and strict about undefined names."""

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape


def environment(package: str) -> Environment:
    """The templates of ``package``'s ``templates`` folder."""
    return Environment(
        loader=PackageLoader(package, "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
