"""jinja2 environments, one per output, each escaping every ``{{ }}`` value for its markup.

Values wrapped in :class:`Trusted` (links we built ourselves) pass through unescaped; everything
else, i.e. all story text, goes through the platform's escape function.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, Template

from bot.render.model import join_names


class Trusted(str):
    """Markup we produced ourselves; the template's escaper leaves it alone."""

    __slots__ = ()


Escaper = Callable[[str], str]


def _finalizer(escape: Escaper) -> Callable[[Any], str]:
    def finalize(value: Any) -> str:
        if isinstance(value, Trusted):
            return str(value)
        return escape(str(value))

    return finalize


@cache
def environment(escape: Escaper) -> Environment:
    env = Environment(
        loader=PackageLoader("bot", "templates"),
        autoescape=False,
        finalize=_finalizer(escape),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        undefined=StrictUndefined,
        auto_reload=False,
    )
    # Templates need no globals; an empty table makes each render's context cheaper to build.
    env.globals.clear()
    env.filters["names"] = lambda items: join_names(list(items))
    return env


@cache
def template(escape: Escaper, name: str) -> Template:
    return environment(escape).get_template(name)
