"""Bounds: formulas over program parameters, and fits of measured counts against Θ forms.

Two notations, both evaluated over a program's parameters:

- Θ forms, as written on a blackboard: "n log n", "log^2 n", "n^2 d + n d^2", "n^2 d^2 / M",
  "sqrt n", "1". Juxtaposition multiplies, ^ is a power, log is log2.
- exact formulas, in Python syntax with log2, ceil, floor, sqrt: "n - 1", "2*(n-1)", "ceil(log2(n))".

`fit` fits measured values y ≈ a·f(params) + b for each candidate form f (least squares on
relative residuals, a > 0) and ranks the forms; `check_theta` passes when the declared form fits
well and no candidate fits distinctly better.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ProgramError

_FUNCS = {"log2": lambda x: math.log2(x) if x > 0 else 0.0, "log": lambda x: math.log2(x) if x > 0 else 0.0,
          "ceil": math.ceil, "floor": math.floor, "sqrt": math.sqrt, "min": min, "max": max, "abs": abs}

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|([A-Za-z_]\w*)|(\*\*|[-+*/^()]))")

# Single-variable candidates, in order of growth.
CANDIDATES = ["1", "log x", "log^2 x", "sqrt x", "x", "x log x", "x log^2 x", "x^2", "x^2 log x", "x^3"]

FIT_TOLERANCE = 0.10      # RMS relative residual the declared form must reach
BETTER_MARGIN = 0.02      # a candidate this much better than the declared form fails the check


def theta_to_python(form: str) -> str:
    """'n log^2 n + d' -> 'n*log2(n)**2 + d' (raises ProgramError on a malformed form)."""
    tokens = _tokenize(form)
    parser = _ThetaParser(tokens, form)
    out = parser.expr()
    if parser.pos != len(tokens):
        raise ProgramError(f"cannot read bound {form!r} past {' '.join(tokens[:parser.pos]) or 'the start'}",
                           hint="write forms like 'n log n', 'log^2 n', 'n^2 d + n d^2'")
    return out


def evaluate(formula: str, params: dict[str, Any], theta: bool = False) -> float:
    """The formula's value at `params`. Θ forms are evaluated in floating point (they only rank
    growth, and 'n^1000' must not build a huge integer); exact formulas in integers. A value
    that overflows or is not finite is a ProgramError naming the point."""
    expr = theta_to_python(formula) if theta else formula
    # text parameters (graph="path") name no size: Θ forms never use them
    names = {k: float(v) for k, v in params.items() if not isinstance(v, str)} if theta else params
    try:
        value = float(eval(expr, {"__builtins__": {}}, {**_FUNCS, **names}))  # noqa: S307 - arithmetic only
    except NameError as exc:
        raise ProgramError(f"bound {formula!r} uses an unknown name: {exc}",
                           hint=f"parameters available: {', '.join(params)}") from None
    except OverflowError:
        value = math.inf
    except (SyntaxError, TypeError, ValueError, ZeroDivisionError) as exc:
        raise ProgramError(f"cannot evaluate bound {formula!r}: {exc}") from None
    if not math.isfinite(value):
        at = ", ".join(f"{k}={v}" for k, v in params.items())
        raise ProgramError(f"bound {formula!r} is too large to evaluate at {at} (beyond 1.8e308)",
                           hint="Θ forms of algorithms are polynomials and logarithms of small degree, e.g. 'n^3'")
    return value


def validate_formula(formula: Any, params: dict[str, Any], theta: bool) -> None:
    """ProgramError unless `formula` is a string that parses (as a Θ form, or as an exact Python
    formula) and names only `params` and the functions bounds know. Nothing is evaluated: a
    formula may be undefined at some parameters (a division by a parameter whose default is 0)."""
    kind = "Θ form" if theta else "formula"
    if not isinstance(formula, str):
        raise ProgramError(f"the {kind} {formula!r} must be a string, e.g. 'n log n'")
    expr = theta_to_python(formula) if theta else formula
    try:
        code = compile(expr, "<bound>", "eval")
    except SyntaxError as exc:
        raise ProgramError(f"cannot read {kind} {formula!r}: {exc.msg}",
                           hint="exact formulas are Python expressions, e.g. '2*(n-1)' or 'n*ceil(log2(n))'") from None
    unknown = sorted(set(code.co_names) - set(params) - set(_FUNCS))
    if unknown:
        raise ProgramError(f"{kind} {formula!r} uses {', '.join(map(repr, unknown))}, not a parameter",
                           hint=f"parameters: {', '.join(params) or 'none'}; functions: {', '.join(_FUNCS)}")


@dataclass(frozen=True)
class Fit:
    form: str
    a: float
    b: float
    rms: float   # RMS relative residual

    def describe(self) -> str:
        sign = "+" if self.b >= 0 else "-"
        return f"{_fmt(self.a)}·({self.form}) {sign} {_fmt(abs(self.b))}   (rms rel. residual {self.rms:.1%})"


def fit_one(form: str, points: list[dict[str, Any]], ys: list[float]) -> Fit:
    f = np.array([evaluate(form, p, theta=True) for p in points], dtype=float)
    y = np.asarray(ys, dtype=float)
    w = 1.0 / np.maximum(np.abs(y), 1e-300)
    if np.ptp(f) == 0:  # a constant form: the intercept and the constant are one and the same
        A = (f * w)[:, None]
        (a,), *_ = np.linalg.lstsq(A, y * w, rcond=None)
        b = 0.0
    else:
        A = np.stack([f * w, w], axis=1)
        (a, b), *_ = np.linalg.lstsq(A, y * w, rcond=None)
    if a <= 0 or not np.isfinite(a):   # Θ forms have positive leading constants
        a = max(float(np.sum(f * y * w * w) / max(np.sum((f * w) ** 2), 1e-300)), 0.0)
        b = 0.0
    if abs(b) < 1e-9 * max(abs(a) * float(np.max(np.abs(f), initial=0.0)), 1e-300):
        b = 0.0  # rounding noise, not a lower-order term
    rms = float(np.sqrt(np.mean(((a * f + b - y) * w) ** 2)))
    return Fit(form, float(a), float(b), rms)


def fit(points: list[dict[str, Any]], ys: list[float], forms: list[str]) -> list[Fit]:
    """All forms fitted and sorted best first."""
    return sorted((fit_one(f, points, ys) for f in forms), key=lambda r: r.rms)


def candidates_for(var: str) -> list[str]:
    return [c.replace("x", var) for c in CANDIDATES]


@dataclass(frozen=True)
class ThetaCheck:
    declared: Fit
    best: Fit
    holds: bool
    reason: str


def check_theta(declared: str, points: list[dict[str, Any]], ys: list[float], varied: list[str]) -> ThetaCheck:
    """Does the measured y grow like `declared` over the sweep?"""
    own = fit_one(declared, points, ys)
    # Constant data fits every form through the intercept: then no other candidate is "better".
    forms = candidates_for(varied[0]) if len(varied) == 1 and len(set(ys)) > 1 else []
    ranked = fit(points, ys, forms) if forms else [own]
    best = min([own, *ranked], key=lambda r: r.rms)
    if own.rms > FIT_TOLERANCE:
        return ThetaCheck(own, best, False, f"Θ({declared}) fits poorly (residual {own.rms:.0%}); "
                                            f"best fit is Θ({best.form})")
    if best.form != own.form and best.rms + BETTER_MARGIN < own.rms:
        return ThetaCheck(own, best, False, f"Θ({best.form}) fits distinctly better than Θ({declared})")
    return ThetaCheck(own, best, True, f"fits Θ({declared})")


# ---- the Θ-form parser -------------------------------------------------------------------------------


def _tokenize(form: str) -> list[str]:
    pos, tokens = 0, []
    form = form.strip()
    while pos < len(form):
        m = _TOKEN.match(form, pos)
        if not m or m.end() == pos:
            raise ProgramError(f"unexpected character {form[pos]!r} in bound {form!r}")
        tokens.append(m.group(m.lastindex))
        pos = m.end()
    return tokens


class _ThetaParser:
    def __init__(self, tokens: list[str], form: str):
        self.t = tokens
        self.pos = 0
        self.form = form

    def peek(self) -> str | None:
        return self.t[self.pos] if self.pos < len(self.t) else None

    def take(self) -> str:
        tok = self.peek()
        if tok is None:
            raise ProgramError(f"bound {self.form!r} ends too early")
        self.pos += 1
        return tok

    def expr(self) -> str:
        out = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()
            out += f" {op} {self.term()}"
        return out

    def term(self) -> str:
        out = self.power()
        while True:
            tok = self.peek()
            if tok in ("*", "/"):
                self.take()
                out += f" {tok} {self.power()}"
            elif tok is not None and (tok == "(" or re.match(r"[\w.]", tok)):
                out += f" * {self.power()}"   # juxtaposition
            else:
                return out

    def power(self) -> str:
        base = self.atom()
        if self.peek() in ("^", "**"):
            self.take()
            base = f"{base}**{self.atom()}"
        return base

    def atom(self) -> str:
        tok = self.take()
        if tok == "(":
            inner = self.expr()
            if self.take() != ")":
                raise ProgramError(f"unbalanced parentheses in bound {self.form!r}")
            return f"({inner})"
        if tok in ("log", "sqrt") and self.peek() != "(" or tok == "log" and self.peek() == "^":
            exponent = ""
            if tok == "log" and self.peek() in ("^", "**"):
                self.take()
                exponent = f"**{self.take()}"
            arg = self.power() if tok == "sqrt" else self.atom()
            return f"{'log2' if tok == 'log' else 'sqrt'}({arg}){exponent}"
        if tok in _FUNCS and self.peek() == "(":
            self.take()
            inner = self.expr()
            self.take()
            return f"{'log2' if tok == 'log' else tok}({inner})"
        if re.fullmatch(r"\d+(\.\d+)?|[A-Za-z_]\w*", tok):
            return tok
        raise ProgramError(f"unexpected {tok!r} in bound {self.form!r}")


def _fmt(x: float) -> str:
    return f"{x:.3g}"
