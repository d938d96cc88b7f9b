"""Property companies (物业服务企业) graded by how they serve their compounds: credit grades A/B/C/D.

A company serves the compounds the org file names it for. Its figures are those of the cases reported
in its compounds (core/statistics.py's definitions): cases closed in the period, the on-time closure
rate and the residents' mean rating. The grade is the best one whose thresholds both figures meet,
from settings (CREDIT_GRADES, "A=0.95/4.5,B=0.85/4.0,C=0.70/3.0": least on-time rate / least mean
rating); below C is D. Without ratings only the on-time rate counts; with nothing closed in the
period there is no grade.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.statistics import OnTime

GRADES = ("A", "B", "C")
LOWEST = "D"


@dataclass(frozen=True)
class GradeRule:
    grade: str
    min_on_time: float     # a fraction, 0–1
    min_mean_rating: float  # stars, 1–5


def credit_rules(text: str) -> tuple[GradeRule, ...]:
    """"A=0.95/4.5,B=0.85/4.0,C=0.70/3.0" → the rules, A first; ValueError naming what is wrong."""
    found: dict[str, GradeRule] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        grade, sep, figures = part.partition("=")
        rate, slash, mean = figures.partition("/")
        grade = grade.strip().upper()
        if not sep or not slash or grade not in GRADES:
            raise ValueError(f"{part!r}: write GRADE=on-time-rate/mean-rating for A, B and C, e.g. A=0.95/4.5")
        try:
            rule = GradeRule(grade, float(rate), float(mean))
        except ValueError:
            raise ValueError(f"{part!r}: the rate and the rating must be numbers") from None
        if not (0 <= rule.min_on_time <= 1 and 0 <= rule.min_mean_rating <= 5):
            raise ValueError(f"{part!r}: the rate is 0–1, the rating 0–5")
        found[grade] = rule
    if set(found) != set(GRADES):
        raise ValueError("give thresholds for A, B and C")
    rules = tuple(found[g] for g in GRADES)
    for better, worse in zip(rules, rules[1:]):
        if better.min_on_time < worse.min_on_time or better.min_mean_rating < worse.min_mean_rating:
            raise ValueError(f"{better.grade} must ask at least as much as {worse.grade}")
    return rules


@dataclass(frozen=True)
class CompanyFigures(OnTime):
    company: str
    compounds: tuple[tuple[int, str], ...]   # (id, name) of the compounds it serves
    received: int
    closed: int
    closed_on_time: int
    rated: int
    mean_rating: float | None
    open_now: int


def credit_grade(figures: CompanyFigures, rules: tuple[GradeRule, ...]) -> str | None:
    """The best grade whose thresholds the company meets; None when it closed nothing in the period."""
    rate = figures.on_time_rate
    if rate is None:
        return None
    for rule in rules:
        if rate >= rule.min_on_time and (figures.mean_rating is None or figures.mean_rating >= rule.min_mean_rating):
            return rule.grade
    return LOWEST
