"""The Dagster UI, in a real browser: `dagster dev` (webserver and daemon) on 127.0.0.1 with the
project's dagster.yaml, Debian's Chromium driven by Playwright.

Opens the global asset graph with every group expanded and checks each group and asset is drawn,
opens the checks of one asset of each kind and checks every defined check is listed, launches a
materialization of one source (raw + staging of coursehub_csv) through the GraphQL API the UI
uses, waits for the run to succeed, sees the checks passed in the UI, and saves screenshots
(printed; $CREDCAT_TEST_ARTIFACTS keeps them, else the test's temporary folder).
The run is launched first and runs while the browser looks at the definitions.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from pipelines.definitions import defs

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CREDCAT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SOURCE = "coursehub_csv"
LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchPipelineExecution(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}"""
RUN_STATUS = "query Status($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status } } }"
LOCATIONS = "{ repositoriesOrError { ... on RepositoryConnection { nodes { name location { name } } } } }"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(url: str, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(f"{url}/graphql", data=json.dumps({"query": query, "variables": variables or {}}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        body = json.load(response)
    assert "errors" not in body, body
    return body["data"]


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package (test extra) is missing")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's chromium (.ci/run does: apt-get install -y chromium)")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("CREDCAT_TEST_ARTIFACTS") or tmp_path_factory.mktemp("ui-artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def dagster_dev(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("dagster-home")
    data = tmp_path_factory.mktemp("credcat-data")
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (home / "dagster-dev.log").open("w")
    env = {**os.environ, "DAGSTER_HOME": str(home), "CREDCAT_DATA_DIR": str(data), "CREDCAT_DEMO_SCALE": "0.05"}
    proc = subprocess.Popen([sys.executable, "-m", "dagster", "dev", "-m", "pipelines.definitions", "-h", "127.0.0.1",
                             "-p", str(port)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while True:
            assert proc.poll() is None, (home / "dagster-dev.log").read_text()[-3000:]
            try:
                nodes = graphql(url, LOCATIONS)["repositoriesOrError"]["nodes"]
                if nodes:
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError, AssertionError):
                pass
            assert time.monotonic() < deadline, "dagster dev did not serve the code location in 300 s:\n" + \
                (home / "dagster-dev.log").read_text()[-3000:]
            time.sleep(2)
        yield url, nodes[0]["location"]["name"], nodes[0]["name"], home
    finally:
        # Our own process group (start_new_session): dagster dev, its webserver, daemon, code server.
        for sig, wait in ((signal.SIGINT, 10), (signal.SIGKILL, 10)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        log.close()


def dismiss_dialog(page, wait_ms: int = 0) -> None:
    """Close the community sign-up dialog a fresh instance shows over the UI, if it is there."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    skip = page.get_by_role("button", name="Skip")
    try:
        if wait_ms:
            skip.first.wait_for(timeout=wait_ms)
        if skip.count():
            skip.first.click()
            page.get_by_role("dialog").first.wait_for(state="hidden", timeout=10_000)
    except PlaywrightTimeout:
        pass


def visit(page, url: str, path: str, ready_text: str) -> None:
    page.goto(url + path, wait_until="domcontentloaded", timeout=120_000)
    page.get_by_text(ready_text).first.wait_for(timeout=120_000)
    dismiss_dialog(page, wait_ms=3_000)


def open_tree(page, members: dict[str, list[str]]) -> None:
    """Open every group of the graph's sidebar tree (its caret sits left of the group's row)
    until the group's first asset is listed."""
    opened: list[str] = []
    for group, labels in sorted(members.items()):
        label = sorted(labels)[0]
        opened.append(label)
        rows = page.get_by_role("button", name=label)
        for _ in range(4):
            # raw/<s> and staging/<s> share labels: as many rows as opened groups that list it
            if sum(1 for i in range(rows.count()) if rows.nth(i).is_visible()) >= opened.count(label):
                break
            dismiss_dialog(page)
            box = page.get_by_role("button", name=group).first.bounding_box()
            page.mouse.click(box["x"] - 10, box["y"] + box["height"] / 2)
            page.wait_for_timeout(700)


def expected_checks() -> dict[str, set[str]]:
    graph = defs.resolve_asset_graph()
    out: dict[str, set[str]] = {}
    for key in graph.asset_check_keys:
        out.setdefault(key.asset_key.to_user_string(), set()).add(key.name)
    return out


def launch_source(url: str, location: str, repository: str) -> str:
    """Materialize raw/<SOURCE> and staging/<SOURCE> (with their checks), as the UI's button does."""
    params = {"selector": {"repositoryLocationName": location, "repositoryName": repository, "jobName": "__ASSET_JOB",
                           "assetSelection": [{"path": ["raw", SOURCE]}, {"path": ["staging", SOURCE]}]},
              "mode": "default", "runConfigData": {}, "executionMetadata": {"tags": [{"key": "credcat/test", "value": "ui"}]}}
    launched = graphql(url, LAUNCH, {"params": params})["launchPipelineExecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]


def wait_for_run(url: str, run_id: str, timeout: float = 400) -> str:
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        status = graphql(url, RUN_STATUS, {"id": run_id})["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(2)
    return status


def test_asset_graph_checks_and_a_source_materialized_in_the_browser(browser, dagster_dev, artifacts) -> None:
    url, location, repository, _ = dagster_dev
    started = time.monotonic()
    graph = defs.resolve_asset_graph()
    groups = {graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert groups == {"raw", "staging", "intermediate", "marts", "exports"}
    # The run goes while the browser looks at the definitions.
    run_id = launch_source(url, location, repository)
    context = browser.new_context(viewport={"width": 2200, "height": 1400})
    page = context.new_page()

    # The global asset graph: one node per group, and the graph's tree of groups, each opened.
    visit(page, url, "/asset-groups", "Global asset lineage")
    for group in sorted(groups):
        page.get_by_text(group, exact=True).first.wait_for(timeout=60_000)
    drawn = [t or "" for t in page.locator("svg foreignObject").all_text_contents()]  # the graph's nodes
    for group in groups:
        assert any(t.startswith(group) for t in drawn), f"group {group} not drawn in the graph: {drawn}"
    members: dict[str, list[str]] = {}
    for key in graph.get_all_asset_keys():
        members.setdefault(graph.get(key).group_name, []).append(key.path[-1])
    open_tree(page, members)
    lines = [line.strip() for line in page.inner_text("body").splitlines()]
    labels: dict[str, int] = {}
    for key in graph.get_all_asset_keys():  # raw/<s> and staging/<s> share a label: both listed
        labels[key.path[-1]] = labels.get(key.path[-1], 0) + 1
    missing = {label: n for label, n in labels.items() if lines.count(label) < n}
    assert not missing, f"assets not shown: {missing}"

    # Every check of one asset of each kind is listed on its Checks tab.
    checks = expected_checks()
    for key in (f"raw/{SOURCE}", "intermediate/offering_links", "intermediate/credentials", "marts/warehouse",
                "exports/parquet"):
        names = sorted(checks[key])
        visit(page, url, f"/assets/{key}?view=checks", names[0])
        body = page.inner_text("body")
        assert not [n for n in names if n not in body], f"{key}: checks not shown"
    print(f"\ngraph and checks seen in {time.monotonic() - started:.0f} s")

    status = wait_for_run(url, run_id)
    assert status == "SUCCESS", f"run {run_id} ended {status}"
    print(f"run {run_id} succeeded at {time.monotonic() - started:.0f} s")

    # The staging asset's checks, all listed and evaluated by the run.
    names = sorted(checks[f"staging/{SOURCE}"])
    visit(page, url, f"/assets/staging/{SOURCE}?view=checks", names[0])
    page.get_by_text("Succeeded").first.wait_for(timeout=60_000)
    body = page.inner_text("body")
    assert not [n for n in names if n not in body] and body.count("Succeeded") >= len(names)
    page.screenshot(path=str(artifacts / "staging-checks.png"))

    # The graph after the run: layers with materialized counts and the tree (the source ticked),
    # then every group expanded (the graph's shortcut Alt+E) and zoomed out.
    visit(page, url, "/asset-groups", "Global asset lineage")
    page.locator("svg foreignObject", has_text="staging").first.wait_for(timeout=60_000)
    open_tree(page, members)
    page.wait_for_timeout(1000)
    shot = artifacts / "asset-graph.png"
    page.screenshot(path=str(shot))
    page.mouse.click(1300, 1200)
    page.keyboard.press("Alt+e")
    page.locator("svg foreignObject", has_text="fct_offering").first.wait_for(timeout=60_000)
    page.mouse.move(1300, 700)
    for _ in range(3):
        page.keyboard.down("Control")
        page.mouse.wheel(0, 60)
        page.keyboard.up("Control")
        page.wait_for_timeout(500)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(artifacts / "asset-graph-expanded.png"))
    context.close()
    print(f"UI screenshots in {artifacts}: asset-graph.png, asset-graph-expanded.png, staging-checks.png "
          f"({time.monotonic() - started:.0f} s)")
    assert shot.stat().st_size > 50_000
