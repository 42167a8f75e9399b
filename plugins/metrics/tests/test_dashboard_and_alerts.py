"""docs/metrics.md, docs/grafana-dashboard.json and docs/prometheus-alerts.yml agree.

The metric table of docs/metrics.md is the reference: it must list the node's metrics with the
types their plugins declare, and the dashboard and the alert rules may query only metrics it
lists (and Prometheus' own ``up``). The rules file is read with a small parser of the YAML
subset it keeps to (no YAML library is a dependency); with PyYAML installed the two readings
must agree, and with promtool installed the rules and the dashboard's queries are checked by
Prometheus' own parser and the alerts are run against synthetic series.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from supervm import Kernel

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "metrics.md"
DASHBOARD = ROOT / "docs" / "grafana-dashboard.json"
ALERTS = ROOT / "docs" / "prometheus-alerts.yml"

#: The node's metrics (issue 11): what the kernel's node services, the mempool and the JSON-RPC
#: plugin record. ``<method>`` stands for a JSON-RPC method name.
NODE_METRICS = {
    "chain_head_block": "gauge",
    "chain_blocks_sealed_total": "counter",
    "chain_transactions_total": "counter",
    "chain_gas_used_total": "counter",
    "chain_block_execution_seconds": "histogram",
    "chain_block_commit_seconds": "histogram",
    "chain_block_seal_seconds": "histogram",
    "chain_gas_per_second": "gauge",
    "chain_reexecutions_total": "counter",
    "txpool_pending": "gauge",
    "txpool_queued": "gauge",
    "txpool_rejected_total": "counter",
    "rpc_requests": "counter",
    "rpc_success": "counter",
    "rpc_failure": "counter",
    "rpc_duration_<method>_success": "histogram",
    "rpc_duration_<method>_failure": "histogram",
    # the network (issue 14)
    "p2p_peers": "gauge",
    "p2p_dials": "counter",
    "p2p_dials_success": "counter",
    "p2p_serves": "counter",
    "p2p_ingress": "counter",
    "p2p_egress": "counter",
    "p2p_messages_in_total": "counter",
    "p2p_messages_out_total": "counter",
    "p2p_invalid_messages_total": "counter",
    "p2p_peer_bans_total": "counter",
    "p2p_blocks_imported_total": "counter",
    "p2p_syncing": "gauge",
    "p2p_sync_starting_block": "gauge",
    "p2p_sync_current_block": "gauge",
    "p2p_sync_highest_block": "gauge",
}
#: Series Prometheus itself writes for every target.
PROMETHEUS_SERIES = {"up"}

# -- docs/metrics.md ---------------------------------------------------------------------------

_ROW = re.compile(
    r"^\| `(?P<name>[a-zA-Z_:][a-zA-Z0-9_:<>]*)` \| (?P<kind>counter|gauge|histogram) \|", re.M
)


def documented() -> dict[str, str]:
    """Metric name (``<method>`` placeholders kept) -> type, from the table of metrics.md."""
    rows = [(m["name"], m["kind"]) for m in _ROW.finditer(DOC.read_text(encoding="utf-8"))]
    table = dict(rows)
    assert len(table) == len(rows), "a metric is listed twice in docs/metrics.md"
    return table


def _pattern(name: str) -> str:
    return "".join(
        "[a-zA-Z0-9_]+" if part == "<method>" else re.escape(part)
        for part in re.split(r"(<method>)", name)
    )


def is_known_series(series: str, table: dict[str, str]) -> bool:
    """Whether ``series`` is a documented metric, or a histogram's bucket, sum or count."""
    if series in PROMETHEUS_SERIES:
        return True
    for name, kind in table.items():
        suffixes = ("", "_bucket", "_sum", "_count") if kind == "histogram" else ("",)
        if any(re.fullmatch(_pattern(name) + s, series) for s in suffixes):
            return True
    return False


def examples(table: dict[str, str]) -> Iterator[str]:
    """A series name of every documented metric, with ``eth_call`` for ``<method>``."""
    for name, kind in table.items():
        concrete = name.replace("<method>", "eth_call")
        suffixes = ("", "_bucket", "_sum", "_count") if kind == "histogram" else ("",)
        for s in suffixes:
            yield concrete + s


def test_the_doc_lists_the_node_metrics_with_their_types() -> None:
    assert documented() == NODE_METRICS


def test_the_installed_plugins_declare_what_the_doc_says() -> None:
    # Every node metric an installed plugin declares is documented with its type. The per
    # method RPC durations are declared at run time, so they are not in the registry.
    table = documented()
    declared = {m.name: str(m.kind) for m in Kernel.from_plugins(env={}).metrics().metrics()}
    node = {
        n: k for n, k in declared.items() if n.startswith(("chain_", "txpool_", "rpc_", "p2p_"))
    }
    assert node, "no plugin declares the node's metrics"
    assert {n: table.get(n) for n in node} == node


# -- PromQL ------------------------------------------------------------------------------------

#: PromQL's functions and aggregations the dashboard and rules may call.
FUNCTIONS = {
    "abs", "avg", "avg_over_time", "ceil", "changes", "clamp_max", "clamp_min", "count",
    "delta", "deriv", "floor", "histogram_quantile", "increase", "irate", "label_replace",
    "max", "max_over_time", "min", "min_over_time", "quantile", "rate", "resets", "round",
    "sum", "time", "topk", "vector",
}  # fmt: skip
KEYWORDS = {"and", "or", "unless", "bool", "offset", "group_left", "group_right"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_NAME_MATCHER = re.compile(r'__name__\s*=~\s*"((?:[^"\\]|\\.)*)"')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENTIFIER = re.compile(r"(?<![\w.:])[a-zA-Z_:][\w:]*(?P<call>\s*\()?")


@attrs.frozen
class Queried:
    """What one PromQL expression reads: series by name, and ``__name__`` regexes."""

    names: frozenset[str]
    name_regexes: frozenset[str]


def queried(expr: str) -> Queried:
    """The series names and name regexes ``expr`` selects.

    :raises AssertionError: for a call of a function not in :data:`FUNCTIONS` (a typo, or one
        to add there).
    """
    regexes = frozenset(m.encode().decode("unicode_escape") for m in _NAME_MATCHER.findall(expr))
    text = _STRING.sub('""', expr)
    text = re.sub(r"\$\{?\w+(?::\w+)?\}?", "", text)  # Grafana's variables
    text = re.sub(r"\{[^{}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges and subqueries
    text = _GROUPING.sub("", text)
    names = set()
    for m in _IDENTIFIER.finditer(text):
        word = m[0].rstrip("( \t\n")
        if m["call"]:
            assert word in FUNCTIONS, f"unknown PromQL function {word!r} in {expr!r}"
        elif word not in KEYWORDS:
            names.add(word)
    return Queried(frozenset(names), regexes)


def check_queries(exprs: list[str]) -> set[str]:
    """Assert every series the expressions read is documented; return the metrics they read."""
    table = documented()
    used: set[str] = set()
    for expr in exprs:
        q = queried(expr)
        for name in q.names:
            assert is_known_series(name, table), f"{name!r} is not in docs/metrics.md: {expr!r}"
            used.add(name)
        for regex in q.name_regexes:
            matched = [e for e in examples(table) if re.fullmatch(regex, e)]
            assert matched, f"__name__=~{regex!r} matches no documented metric: {expr!r}"
            assert all(re.fullmatch(regex, e) is None for e in ("up", "process_open_fds"))
            used.update(matched)
    return used


def base_names(series: set[str]) -> set[str]:
    return {re.sub(r"_(bucket|sum|count)$", "", s) for s in series}


def test_queried_finds_series_and_ignores_functions_labels_and_variables() -> None:
    q = queried(
        'histogram_quantile(0.95, sum by (instance, le) (rate(a_seconds_bucket{job="x",'
        ' instance=~"$instance"}[$__rate_interval]))) > 1e3 and b_total offset 5m'
        " / on (instance) group_left c"
    )
    assert q == Queried(frozenset({"a_seconds_bucket", "b_total", "c"}), frozenset())
    q = queried(
        'rate(label_replace({__name__=~"rpc_.+_x", i="1"}, "m", "$1", "__name__", "y")[5m:])'
    )
    assert q == Queried(frozenset(), frozenset({"rpc_.+_x"}))
    with pytest.raises(AssertionError, match="unknown PromQL function 'rat'"):
        queried("rat(up[5m])")


# -- the Grafana dashboard ---------------------------------------------------------------------


def dashboard() -> dict[str, Any]:
    loaded = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for panel in board["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))  # a collapsed row keeps its panels inside
    return out


def dashboard_queries(board: dict[str, Any]) -> list[str]:
    exprs = [t["expr"] for p in panels(board) for t in p.get("targets", [])]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            query = query["query"] if isinstance(query, dict) else query
            m = re.fullmatch(r"label_values\((?P<selector>[^,]+),\s*\w+\)", query)
            assert m, f"variable {variable['name']}: unexpected query {query!r}"
            exprs.append(m["selector"])
    return exprs


def test_the_dashboard_is_an_importable_dashboard_over_a_datasource_variable() -> None:
    board = dashboard()
    assert board["uid"] and board["title"] and isinstance(board["schemaVersion"], int)
    assert board["id"] is None  # import creates it
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in panels(board)]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in panels(board):
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"] and target["expr"].strip()
    # Panels do not overlap: no two cover the same grid cell.
    cells: set[tuple[int, int]] = set()
    for panel in panels(board):
        g = panel["gridPos"]
        covered = {
            (x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])
        }
        assert not covered & cells, f"panel {panel['title']!r} overlaps another"
        cells |= covered


def test_the_dashboard_queries_documented_metrics_and_covers_the_node() -> None:
    used = base_names(check_queries(dashboard_queries(dashboard())))
    assert used >= {
        "chain_head_block",
        "chain_blocks_sealed_total",
        "chain_transactions_total",
        "chain_gas_used_total",
        "chain_gas_per_second",
        "chain_block_execution_seconds",
        "chain_block_commit_seconds",
        "chain_reexecutions_total",
        "txpool_pending",
        "txpool_queued",
        "txpool_rejected_total",
        "rpc_requests",
        "rpc_success",
        "rpc_failure",
        "rpc_duration_eth_call_success",
        "rpc_duration_eth_call_failure",
    }


# -- the alert rules ---------------------------------------------------------------------------

_LINE = re.compile(r"(?P<indent> *)(?P<item>- )?(?P<key>[A-Za-z_]\w*):(?: (?P<value>.*))?")
#: Characters a YAML plain scalar may not start with (it would mean something else).
_INDICATORS = set("[]{}&*!|>'\"%@`#,?:-")


@attrs.frozen
class _Line:
    number: int
    indent: int
    item: bool
    key: str
    value: str | None


def _scalar(text: str, number: int) -> str:
    text = text.rstrip()
    if text.startswith('"'):
        assert len(text) > 1 and text.endswith('"'), f"line {number}: unterminated string"
        value = json.loads(text)  # YAML's double-quoted escapes, as far as the file uses them
        assert isinstance(value, str)
        return value
    assert text and text[0] not in _INDICATORS, f"line {number}: quote this value: {text!r}"
    assert " #" not in text and ": " not in text, f"line {number}: quote this value: {text!r}"
    return text


def read_rules_yaml(text: str) -> Any:
    """Parse the YAML subset the rules file keeps to: block mappings, block lists of mappings,
    plain and double-quoted string scalars, comments.

    :raises AssertionError: naming the line that leaves the subset.
    """
    lines: list[_Line] = []
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        m = _LINE.fullmatch(raw)
        assert m, f"line {number}: not in the YAML subset the tests read: {raw!r}"
        indent = len(m["indent"]) + (2 if m["item"] else 0)
        value = None if m["value"] is None else _scalar(m["value"], number)
        lines.append(_Line(number, indent, bool(m["item"]), m["key"], value))

    def block(i: int, indent: int) -> tuple[Any, int]:
        if not lines[i].item:
            return mapping(i, indent, item=False)
        items = []
        while i < len(lines) and lines[i].indent == indent and lines[i].item:
            entry, i = mapping(i, indent, item=True)
            items.append(entry)
        return items, i

    def mapping(i: int, indent: int, *, item: bool) -> tuple[dict[str, Any], int]:
        out: dict[str, Any] = {}
        start = i
        while (
            i < len(lines) and lines[i].indent == indent and lines[i].item == (item and i == start)
        ):
            line = lines[i]
            assert line.key not in out, f"line {line.number}: {line.key!r} repeated"
            if line.value is not None:
                out[line.key], i = line.value, i + 1
                continue
            assert i + 1 < len(lines) and lines[i + 1].indent > indent, (
                f"line {line.number}: {line.key!r} has no value"
            )
            out[line.key], i = block(i + 1, lines[i + 1].indent)
        return out, i

    assert lines, "empty file"
    tree, end = block(0, lines[0].indent)
    assert end == len(lines), f"line {lines[end].number}: unexpected indentation"
    return tree


def rules() -> list[dict[str, Any]]:
    tree = read_rules_yaml(ALERTS.read_text(encoding="utf-8"))
    assert isinstance(tree, dict) and list(tree) == ["groups"]
    return [rule for group in tree["groups"] for rule in group["rules"]]


def test_the_rules_parser_reads_nesting_and_refuses_what_it_does_not_know() -> None:
    text = 'a:\n  - b: x\n    c:\n      d: "q: {{ $v }}"\n  - b: y\nz: 1m\n'
    assert read_rules_yaml(text) == {
        "a": [{"b": "x", "c": {"d": "q: {{ $v }}"}}, {"b": "y"}],
        "z": "1m",
    }
    for bad in ("a: {x}\n", "a: b: c\n", "a:\n", "a: 1\n a: 2\n", "a: [1]\n", "- 1\n"):
        with pytest.raises(AssertionError):
            read_rules_yaml(bad)


def test_every_alert_is_complete() -> None:
    names = []
    for rule in rules():
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule
        names.append(rule["alert"])
        assert re.fullmatch(r"SuperVM[A-Z]\w+", rule["alert"])
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert set(rule["annotations"]) == {"summary", "description"}
        assert rule["expr"].count("(") == rule["expr"].count(")"), rule["alert"]
    assert len(names) == len(set(names)), "alert names repeat"


def test_the_alerts_query_documented_metrics_and_cover_the_cases() -> None:
    by_alert = {r["alert"]: base_names(check_queries([r["expr"]])) for r in rules()}
    assert by_alert == {
        "SuperVMExporterDown": {"up"},
        "SuperVMHeadNotAdvancing": {"chain_head_block", "txpool_pending"},
        "SuperVMTxpoolNearLimit": {"txpool_pending", "txpool_queued"},
        "SuperVMRpcFailureRatioHigh": {"rpc_failure", "rpc_requests"},
        "SuperVMBlockExecutionSlow": {"chain_block_execution_seconds"},
    }


def test_pyyaml_reads_the_rules_as_the_tests_do() -> None:
    yaml = pytest.importorskip("yaml")
    text = ALERTS.read_text(encoding="utf-8")
    assert yaml.safe_load(text) == read_rules_yaml(text)


# -- promtool ----------------------------------------------------------------------------------

needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None, reason="no promtool")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["promtool", *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.slow
@needs_promtool
def test_promtool_accepts_the_rules_and_the_dashboards_queries(tmp_path: Path) -> None:
    done = promtool("check", "rules", str(ALERTS))
    assert done.returncode == 0, done.stdout + done.stderr
    # Each dashboard query as a recording rule, Grafana's variables given typical values.
    records = []
    for i, expr in enumerate(dashboard_queries(dashboard())):
        concrete = expr.replace("$__rate_interval", "1m").replace("$instance", ".*")
        assert "$" not in concrete.replace('"$1"', ""), f"unresolved variable in {expr!r}"
        records.append({"record": f"dashboard:query_{i}", "expr": concrete})
    recording = tmp_path / "dashboard-rules.json"  # JSON is YAML
    recording.write_text(json.dumps({"groups": [{"name": "dashboard", "rules": records}]}))
    done = promtool("check", "rules", str(recording))
    assert done.returncode == 0, done.stdout + done.stderr


def _render(template: str, labels: dict[str, str], value: str) -> str:
    """Prometheus' rendering of the templates the rules use, for one alert."""
    out = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m[1]], template)
    return re.sub(r"\{\{ \$value(?: \| \w+)? \}\}", value, out)


#: Per alert: the input series (1 minute apart), when to look, and how the firing alert
#: renders ``$value``, or ``None`` where the alert must stay silent.
CASES: list[tuple[str, dict[str, str], str, str | None]] = [
    ("SuperVMExporterDown", {'up{job="supervm",instance="n1"}': "0x10"}, "5m", "0"),
    ("SuperVMExporterDown", {'up{job="supervm",instance="n1"}': "1x10"}, "5m", None),
    (
        "SuperVMHeadNotAdvancing",
        {'chain_head_block{job="supervm",instance="n1"}': "5x20",
         'txpool_pending{job="supervm",instance="n1"}': "3x20"},
        "10m",
        "5",
    ),
    (
        "SuperVMHeadNotAdvancing",
        {'chain_head_block{job="supervm",instance="n1"}': "1+1x20",
         'txpool_pending{job="supervm",instance="n1"}': "3x20"},
        "10m",
        None,
    ),
    (
        "SuperVMHeadNotAdvancing",  # idle: nothing waits for a block
        {'chain_head_block{job="supervm",instance="n1"}': "5x20",
         'txpool_pending{job="supervm",instance="n1"}': "0x20"},
        "10m",
        None,
    ),
    (
        "SuperVMTxpoolNearLimit",
        {'txpool_pending{job="supervm",instance="n1"}': "4000x20",
         'txpool_queued{job="supervm",instance="n1"}': "600x20"},
        "10m",
        "4600",
    ),
    (
        "SuperVMTxpoolNearLimit",
        {'txpool_pending{job="supervm",instance="n1"}': "4000x20",
         'txpool_queued{job="supervm",instance="n1"}': "400x20"},
        "10m",
        None,
    ),
    (
        "SuperVMRpcFailureRatioHigh",
        {'rpc_requests{job="supervm",instance="n1"}': "0+60x40",
         'rpc_failure{job="supervm",instance="n1"}': "0+30x40"},
        "20m",
        "50%",
    ),
    (
        "SuperVMRpcFailureRatioHigh",
        {'rpc_requests{job="supervm",instance="n1"}': "0+60x40",
         'rpc_failure{job="supervm",instance="n1"}': "0+6x40"},
        "20m",
        None,
    ),
    (
        "SuperVMRpcFailureRatioHigh",  # too few calls to judge
        {'rpc_requests{job="supervm",instance="n1"}': "0+2x40",
         'rpc_failure{job="supervm",instance="n1"}': "0+2x40"},
        "20m",
        None,
    ),
    (
        "SuperVMBlockExecutionSlow",
        {'chain_block_execution_seconds_bucket{job="supervm",instance="n1",le="1.0"}': "0x40",
         'chain_block_execution_seconds_bucket{job="supervm",instance="n1",le="2.5"}': "0+60x40",
         'chain_block_execution_seconds_bucket{job="supervm",instance="n1",le="+Inf"}': "0+60x40"},
        "25m",
        "2.425s",
    ),
    (
        "SuperVMBlockExecutionSlow",
        {'chain_block_execution_seconds_bucket{job="supervm",instance="n1",le="0.1"}': "0+60x40",
         'chain_block_execution_seconds_bucket{job="supervm",instance="n1",le="+Inf"}': "0+60x40"},
        "25m",
        None,
    ),
]  # fmt: skip


@pytest.mark.slow
@needs_promtool
def test_each_alert_fires_on_its_case_and_not_otherwise(tmp_path: Path) -> None:
    by_name = {r["alert"]: r for r in rules()}
    assert {case[0] for case in CASES} == set(by_name)
    tests = []
    for alert, series, at, value in CASES:
        expected = []
        if value is not None:
            labels = {"instance": "n1", "job": "supervm"}
            annotations = {
                k: _render(v, labels, value) for k, v in by_name[alert]["annotations"].items()
            }
            expected.append(
                {
                    "exp_labels": {**labels, **by_name[alert]["labels"]},
                    "exp_annotations": annotations,
                }
            )
        tests.append(
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in series.items()],
                "alert_rule_test": [{"eval_time": at, "alertname": alert, "exp_alerts": expected}],
            }
        )
    spec = tmp_path / "alerts-test.json"  # JSON is YAML
    spec.write_text(json.dumps({"rule_files": [str(ALERTS)], "tests": tests}))
    done = promtool("test", "rules", str(spec))
    assert done.returncode == 0, done.stdout + done.stderr
