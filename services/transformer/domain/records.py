"""Holding a raw line to the warehouse columns its values land in: the transformer's own rule over the records
declared in contracts/records.py (types in contracts/columns.py).

`column_problem`: a value its warehouse column cannot hold (3,000,000,000 in the 32-bit `int` of userRatingCount, a
string where an array is declared) costs its line, with a reason naming the field, the value and what the column
holds, instead of failing the whole build in either warehouse.
"""

from __future__ import annotations

import json
from typing import Any

from contracts.columns import FLOAT_MAX, INTEGER_RANGES, HiveNode, parse_hive_type


def column_problem(row: dict[str, Any], columns: tuple[tuple[str, str], ...]) -> str | None:
    """Why a parsed JSON object cannot be read with these warehouse columns (a value of the wrong type, or out of its
    type's range: 3000000000 in an `int`), naming the field, the value and what the column holds; None when both
    warehouses can read every value. Keys without a column are not read by either warehouse, so never a problem."""
    for name, hive in columns:
        if name in row:
            problem = _value_problem(row[name], parse_hive_type(hive), name)
            if problem:
                return problem
    return None


def _value_problem(value: Any, node: HiveNode, where: str) -> str | None:
    if value is None:  # every column is nullable
        return None
    kind, detail = node
    if kind == "array":
        if not isinstance(value, list):
            return _wrong_type(value, "an array", where)
        for index, item in enumerate(value):
            problem = _value_problem(item, detail, f"{where}[{index}]")
            if problem:
                return problem
        return None
    if kind == "struct":
        if not isinstance(value, dict):
            return _wrong_type(value, "an object", where)
        for name, child in detail:
            if name in value:
                problem = _value_problem(value[name], child, f"{where}.{name}")
                if problem:
                    return problem
        return None
    if detail in INTEGER_RANGES:
        low, high = INTEGER_RANGES[detail]
        if isinstance(value, bool) or not isinstance(value, int):
            return _wrong_type(value, f"an integer ({detail}: {low} to {high})", where)
        if not low <= value <= high:
            return (
                f"{where}: {value} is out of the range of its warehouse column ({detail}: {low} to {high}); "
                "both warehouses would fail to read it"
            )
        return None
    if detail in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return _wrong_type(value, f"a number ({detail})", where)
        if detail == "float" and abs(value) > FLOAT_MAX:
            return f"{where}: {value} is out of the range of its warehouse column (float: -{FLOAT_MAX} to {FLOAT_MAX})"
        return None
    if detail == "boolean" and not isinstance(value, bool):
        return _wrong_type(value, "true or false (boolean)", where)
    if detail in ("string", "date", "timestamp") and not isinstance(value, str):
        return _wrong_type(value, f"a string ({detail})", where)
    return None


def _wrong_type(value: Any, expected: str, where: str) -> str:
    shown = json.dumps(value, ensure_ascii=False)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return f"{where}: {shown} is not {expected}, the type of its warehouse column"
