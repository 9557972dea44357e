"""Integers a route declares are refused with 422 when a database column could not hold them,
for every route at once: an id past 64 bits made SQLite raise OverflowError, one past 32 bits
made PostgreSQL (whose id columns are INTEGER) raise a DataError, both answered 500."""

from __future__ import annotations

import re
import types
import typing

from fastapi import HTTPException, Request

from bot.i18n import gettext

LARGEST = 2**31 - 1  # PostgreSQL's INTEGER, what the id columns are; SQLite holds more
_INTEGER = re.compile(r"^\s*[+-]?\d+\s*$")


def _is_int(annotation) -> bool:
    if annotation is int:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return int in typing.get_args(annotation)
    return False


def _int_params(dependant) -> tuple[list[str], list[str]]:
    """Names of the int path and query parameters of a route and its dependencies."""
    path = [f.alias for f in dependant.path_params if _is_int(f.field_info.annotation)]
    query = [f.alias for f in dependant.query_params if _is_int(f.field_info.annotation)]
    for sub in dependant.dependencies:
        more_path, more_query = _int_params(sub)
        path += more_path
        query += more_query
    return path, query


_PARAMS: dict[int, tuple] = {}  # id(route) -> (route, its int parameters)


def _too_large(value: str | None) -> bool:
    if value is None or not _INTEGER.match(value):
        return False
    digits = value.strip().lstrip("+-").lstrip("0")
    return len(digits) > 10 or int(digits or "0") > LARGEST  # no int() of 5,000 digits


async def integers_in_range(request: Request) -> None:
    """A global dependency: runs before the route's own parameters are used."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    known = _PARAMS.get(id(route))
    if known is None or known[0] is not route:  # worked out once per route, not per request
        known = _PARAMS[id(route)] = (route, _int_params(dependant))
    path, query = known[1]
    for name in path:
        if _too_large(request.path_params.get(name)):
            raise _out_of_range(name)
    for name in query:
        if any(_too_large(v) for v in request.query_params.getlist(name)):
            raise _out_of_range(name)


def _out_of_range(name: str) -> HTTPException:
    """The refusal, in the reader's language (an error page shows it to people)."""
    return HTTPException(422, gettext("%(name)s is out of range") % {"name": name})
