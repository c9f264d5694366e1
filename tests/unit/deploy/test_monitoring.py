# SPDX-License-Identifier: Apache-2.0
"""deploy/monitoring: the Grafana dashboard and the Prometheus alert rules load, and every query in them uses
only metrics a running hub exports (read from a live ``/metrics``)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import jsonschema
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.support.hubs import HubUnderTest, start_hub
from tests.unit.deploy.deploykit import DEPLOY

MONITORING: Final = DEPLOY / "monitoring"
DASHBOARD: Final = MONITORING / "grafana-dashboard.json"
RULES: Final = MONITORING / "alerts.yaml"
#: Series Prometheus makes itself (not the hub's).
PROMETHEUS_SERIES: Final = frozenset({"up"})
#: A PromQL word that names a series: not a function, keyword or label (those are followed by "(" or come
#: inside braces or by/without/on/ignoring lists, which :func:`_metric_names` removes first).
_NAME: Final = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b")
_KEYWORDS: Final = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and"})
_KEYWORDS_MORE: Final = frozenset({"or", "unless", "le", "inf", "nan"})

#: What Grafana needs to import a dashboard and draw its panels (the fields this file relies on).
DASHBOARD_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["uid", "title", "schemaVersion", "panels", "templating", "time"],
    "properties": {
        "uid": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,40}$"},
        "title": {"type": "string", "minLength": 1},
        "schemaVersion": {"type": "integer", "minimum": 30},
        "time": {"type": "object", "required": ["from", "to"]},
        "templating": {
            "type": "object",
            "required": ["list"],
            "properties": {"list": {"type": "array", "items": {"type": "object", "required": ["name", "type"]}}},
        },
        "panels": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "type", "title", "gridPos"],
                "properties": {
                    "id": {"type": "integer"},
                    "type": {"enum": ["row", "stat", "timeseries", "bargauge", "table", "gauge"]},
                    "title": {"type": "string", "minLength": 1},
                    "gridPos": {
                        "type": "object",
                        "required": ["h", "w", "x", "y"],
                        "properties": {
                            "h": {"type": "integer", "minimum": 1},
                            "w": {"type": "integer", "minimum": 1, "maximum": 24},
                            "x": {"type": "integer", "minimum": 0, "maximum": 23},
                            "y": {"type": "integer", "minimum": 0},
                        },
                    },
                    "datasource": {"type": "object", "required": ["type", "uid"]},
                    "targets": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["refId", "expr"],
                            "properties": {"expr": {"type": "string", "minLength": 1}},
                        },
                    },
                },
                "if": {"properties": {"type": {"not": {"const": "row"}}}},
                "then": {"required": ["datasource", "targets"], "properties": {"targets": {"minItems": 1}}},
            },
        },
    },
}


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubUnderTest]:
    yield from start_hub(tmp_path / "hub")


def _dashboard() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return document


def _rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def _panel_queries() -> list[str]:
    return [target["expr"] for panel in _dashboard()["panels"] for target in panel.get("targets", [])]


def _metric_names(expr: str) -> set[str]:
    """The series an expression reads: names not followed by ``(`` outside label matchers and grouping lists."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings (label values, regexes)
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    names = set()
    for match in _NAME.finditer(text):
        word = match.group(1)
        after = text[match.end() :].lstrip()
        if after.startswith("(") or word.lower() in _KEYWORDS | _KEYWORDS_MORE or word[0].isdigit():
            continue
        names.add(word)
    return names


def _exported(hub: HubUnderTest) -> set[str]:
    """Every series name a live hub's /metrics offers (histograms with their _bucket, _sum and _count)."""
    response = hub.client.get("/metrics", headers=hub.auth("admin"))
    assert response.status_code == 200
    names: set[str] = set()
    for family in text_string_to_metric_families(response.text):
        if family.type == "histogram":
            names |= {f"{family.name}_bucket", f"{family.name}_sum", f"{family.name}_count"}
        elif family.type == "counter":
            names.add(f"{family.name}_total")
        else:
            names.add(family.name)
    return names


def test_the_dashboard_has_what_grafana_needs() -> None:
    dashboard = _dashboard()
    jsonschema.validate(dashboard, DASHBOARD_SCHEMA)
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    datasource = {variable["name"] for variable in dashboard["templating"]["list"] if variable["type"] == "datasource"}
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] in {f"${{{name}}}" for name in datasource}, panel["title"]


def test_the_dashboard_schema_catches_what_grafana_would_refuse() -> None:
    broken = _dashboard()
    del broken["panels"][1]["gridPos"]
    with pytest.raises(jsonschema.ValidationError, match="gridPos"):
        jsonschema.validate(broken, DASHBOARD_SCHEMA)


def test_every_rule_has_a_name_an_expression_and_a_summary() -> None:
    rules = _rules()
    assert rules
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        assert re.fullmatch(r"Tipshare[A-Za-z]+", rule["alert"]), rule
        assert rule["annotations"]["summary"], rule["alert"]
        assert rule["labels"]["severity"] in {"page", "warning", "info"}, rule["alert"]
    names = {rule["alert"] for rule in rules}
    for required in (
        "TipshareReportsMissing",
        "TipshareReportsLate",
        "TipshareSlowIngest",
        "TipshareSubmissionsRejected",
        "TipshareCheckpointOld",
        "TipshareWitnessBehind",
        "TipshareRoundFailed",
        "TipshareRoundStuck",
    ):
        assert required in names, required


def test_queries_use_only_metrics_the_hub_exports(hub: HubUnderTest) -> None:
    exported = _exported(hub)
    # The families a scrape lists: the alerts' subjects are among them even before any traffic.
    for needed in (
        "tipshare_reports_missing",
        "tipshare_ingest_seconds_bucket",
        "tipshare_checkpoint_age_seconds",
        "tipshare_secagg_rounds_failed",
        "tipshare_secagg_next_deadline_seconds",
    ):
        assert needed in exported
    queries = {f"panel: {expr}": expr for expr in _panel_queries()}
    queries |= {f"rule {rule['alert']}: {rule['expr']}": rule["expr"] for rule in _rules()}
    for where, expr in queries.items():
        names = _metric_names(expr)
        assert names, where
        unknown = names - exported - PROMETHEUS_SERIES
        assert not unknown, f"{where} reads {unknown}, which the hub does not export"


def test_the_name_extraction_reads_promql() -> None:
    expr = 'histogram_quantile(0.95, sum by (le, route) (rate(tipshare_x_bucket{route=~"/v1/.*"}[5m]))) > 5'
    assert _metric_names(expr) == {"tipshare_x_bucket"}
    assert _metric_names("a - ignoring(w) group_left() min(b) > 86400") == {"a", "b"}
    assert _metric_names('up{job="tipshare-hub"} == 0') == {"up"}


def test_promtool_accepts_the_rules() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip(
            "promtool is not installed (Debian package prometheus: `make promtool`); the rules were checked in Python"
        )
    result = subprocess.run(  # noqa: S603 - a fixed tool on a file of this repository
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_rules())} rules found" in result.stdout, result.stdout


def test_the_guide_shows_the_monitoring_files() -> None:
    guide = (DEPLOY / "README.md").read_text(encoding="utf-8")
    for path in (DASHBOARD, RULES):
        assert str(path.relative_to(DEPLOY)) in guide, path.name
