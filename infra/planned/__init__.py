"""The planned read path (see planner.py)."""

from infra.planned.planner import Plan, Planner
from infra.planned.selection import NotPlannable

__all__ = ["NotPlannable", "Plan", "Planner"]
