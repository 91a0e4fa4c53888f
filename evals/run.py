#!/usr/bin/env python3
"""Runs the agentops evaluation suite (evals/tasks/*.toml); see evals/README.md.

Each task runs `agentops run --output-format json ...` headless in a fresh git-initialised copy
of a tree, then checks the outcome, the answer, the files and the rendered overlays.
`--self-test` needs no model and no agentops: it proves every task's checks fail on the
untouched tree and pass once the task's `oracle` (a known-good change) is applied.

Python 3.11+, standard library only; needs git and kubectl (for `kubectl kustomize`).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import tomllib
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import miniyaml  # noqa: E402

EVALS = Path(__file__).resolve().parent
REPO = EVALS.parent
TASKS_DIR = EVALS / "tasks"

# What a team lets an agent do without a person: edit files (gated), run the sandboxed shell
# (gated), the typed change tools (gated) and commit (gated). Cluster-mutating tools
# (kubectl_apply, argocd_app_sync) are not allowed. Read-only tools need no rule.
DEFAULT_ALLOWED_TOOLS = "Edit,Write,Bash,harmonize,create_app,add_object,git_commit"

# --bash-only: the same job with file and shell tools only, through an agent definition
# written into the copy (agentops offers an agent exactly the tools its `tools:` lists).
BASELINE_AGENT = "eval-baseline"
BASELINE_TOOLS = "Read, Glob, Grep, Bash, Write, Edit"
BASELINE_BODY = """\
You are a general-purpose agent working in a platform team's infrastructure repository
(Kustomize `base/` + `overlays/<env>/` per app, Argo CD or Flux objects per cluster).

How you work:
- Read only what the request needs: the app and environment it names, not every overlay.
- Use the file tools and the shell (`kubectl kustomize DIR` renders an overlay; `git diff`).
- Changes to manifests are gated: after an edit the overlay is rendered, schema-checked and
  policy-checked. If a gate fails, fix the cause; never try to work around a gate.
- High-risk changes (StatefulSet, PVC, NetworkPolicy, RBAC, deletes, anything in prod) wait for
  a person's approval. Say clearly what the change does and why it is needed.
- Finish with a short summary: what you found or changed, and what is left for a person to do.
"""

GUARD_CHECKS = {"unchanged", "nothing_changed"}
MODEL_ONLY_CHECKS = {"answer_contains", "answer_regex", "exit_code"}
CHECK_KINDS = {
    "render_contains": {"path", "contains"},
    "render_not_contains": {"path", "contains"},
    "render_field": {"path", "object", "field"},
    "unchanged": {"paths"},
    "changed": {"paths"},
    "nothing_changed": set(),
    "file_contains": {"paths", "contains"},
    "file_absent": {"paths"},
    "file_exists": {"paths"},
    "answer_contains": set(),
    "answer_regex": {"pattern"},
    "exit_code": {"equals"},
}
CHECK_OPTIONAL = {
    "render_field": {"namespace", "equals", "contains", "one_of", "matches", "quantity",
                     "absent", "present", "empty"},
    "answer_contains": {"all", "any"},
    "answer_regex": {"not_pattern"},
    "unchanged": {"allow_new"},
}
TASK_KEYS = {
    "name", "tree", "prompt", "kind", "approve", "allowed_tools", "expect_outcome", "check",
    "oracle", "setup", "sabotage", "smoke", "max_turns", "timeout", "notes", "agent",
}
FIELD_ASSERTIONS = ("equals", "contains", "one_of", "matches", "quantity", "absent", "present",
                    "empty")


# ----------------------------------------------------------------------------- tasks


class TaskError(Exception):
    pass


def load_tasks(directory: Path) -> list[dict]:
    tasks = []
    for f in sorted(directory.glob("*.toml")):
        with f.open("rb") as fh:
            try:
                t = tomllib.load(fh)
            except tomllib.TOMLDecodeError as e:
                raise TaskError(f"{f.name}: {e}") from e
        t["_file"] = f.stem
        validate_task(t, f.name)
        tasks.append(t)
    names = [t["name"] for t in tasks]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise TaskError(f"duplicate task names: {', '.join(sorted(dupes))}")
    return tasks


def validate_task(t: dict, where: str) -> None:
    unknown = set(t) - TASK_KEYS - {"_file"}
    if unknown:
        raise TaskError(f"{where}: unknown keys {sorted(unknown)}")
    for key in ("name", "tree", "prompt", "expect_outcome", "check", "oracle"):
        if key not in t:
            raise TaskError(f"{where}: `{key}` is required")
    if not t["check"]:
        raise TaskError(f"{where}: no [[check]]")
    for i, c in enumerate(t["check"]):
        kind = c.get("kind")
        if kind not in CHECK_KINDS:
            raise TaskError(f"{where}: check {i + 1}: unknown kind {kind!r}")
        missing = CHECK_KINDS[kind] - set(c)
        if missing:
            raise TaskError(f"{where}: check {i + 1} ({kind}): missing {sorted(missing)}")
        extra = set(c) - CHECK_KINDS[kind] - CHECK_OPTIONAL.get(kind, set()) - {"kind", "why"}
        if extra:
            raise TaskError(f"{where}: check {i + 1} ({kind}): unknown keys {sorted(extra)}")
        if kind == "render_field" and not any(a in c for a in FIELD_ASSERTIONS):
            raise TaskError(f"{where}: check {i + 1}: render_field needs one of {FIELD_ASSERTIONS}")
        if kind == "answer_contains" and not (c.get("all") or c.get("any")):
            raise TaskError(f"{where}: check {i + 1}: answer_contains needs `all` or `any`")
    if not tree_source(t["tree"]).is_dir():
        raise TaskError(f"{where}: tree {t['tree']!r} not found at {tree_source(t['tree'])}")


def tree_source(spec: str) -> Path:
    if spec.startswith("corpus:"):
        shared = Path(os.environ.get("AGENTOPS_SHARED", REPO.parent / "shared"))
        return shared / "corpus" / spec[len("corpus:"):]
    return REPO / spec


def no_change_task(t: dict) -> bool:
    """A task whose correct result changes nothing: an answer, or a change that must stop
    for approval."""
    return (any(c["kind"] == "nothing_changed" for c in t["check"])
            or t["expect_outcome"] in ("approval_required", "denied"))


# ----------------------------------------------------------------------------- workspace


def sh(script: str, cwd: Path, what: str) -> None:
    p = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd,
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise TaskError(f"{what} failed (exit {p.returncode}): {(p.stderr or p.stdout).strip()[-400:]}")


def git(root: Path, *args: str, check: bool = True) -> str:
    p = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise TaskError(f"git {' '.join(args)}: {p.stderr.strip()}")
    return p.stdout


def prepare(task: dict, bash_only: bool, config: str | None = None) -> tuple[Path, Path, str]:
    """A fresh copy of the task's tree, set up and committed: (tmpdir, repo root, base sha)."""
    src = tree_source(task["tree"])
    tmp = Path(tempfile.mkdtemp(prefix=f"agentops-eval-{task['_file']}-"))
    root = tmp / src.name
    shutil.copytree(src, root, symlinks=True,
                    ignore=shutil.ignore_patterns(".git", ".agentops"))
    for dirpath, dirnames, filenames in os.walk(root):
        for n in [*dirnames, *filenames]:
            p = Path(dirpath) / n
            if not p.is_symlink():
                p.chmod(p.stat().st_mode | stat.S_IWUSR)
    Path(root).chmod(Path(root).stat().st_mode | stat.S_IWUSR)
    if task.get("setup"):
        sh(task["setup"], root, "setup")
    if config:
        # The model settings live in the repository's agentops.toml: put the given one in the
        # copy before the base commit, so it is not part of what the agent changed.
        if (root / "agentops.toml").exists():
            print(f"warning: {task['_file']}: the tree's agentops.toml is replaced by {config}",
                  file=sys.stderr)
        shutil.copyfile(config, root / "agentops.toml")
    if bash_only:
        agents = root / ".claude" / "agents"
        agents.mkdir(parents=True, exist_ok=True)
        (agents / f"{BASELINE_AGENT}.md").write_text(
            f"---\nname: {BASELINE_AGENT}\ndescription: Evaluation baseline: file and shell "
            f"tools only.\ntools: {BASELINE_TOOLS}\n---\n{BASELINE_BODY}")
    git(root, "-c", "init.defaultBranch=main", "init", "-q")
    git(root, "config", "user.name", "eval")
    git(root, "config", "user.email", "eval@example.invalid")
    git(root, "config", "commit.gpgsign", "false")
    git(root, "add", "-A")
    git(root, "-c", "user.name=eval", "-c", "user.email=eval@example.invalid",
        "commit", "-qm", "base", "--no-verify")
    base = git(root, "rev-parse", "HEAD").strip()
    return tmp, root, base


def changed_files(root: Path, base: str) -> list[str]:
    """Files that differ from the base commit (committed since or not), new files included."""
    tracked = git(root, "-c", "core.quotepath=off", "diff", "--name-only", "--no-renames",
                  "-z", base).split("\0")
    untracked = git(root, "-c", "core.quotepath=off", "ls-files", "--others",
                    "--exclude-standard", "-z").split("\0")
    return sorted({f for f in tracked + untracked if f and not f.startswith(".agentops/")})


def tracked_files(root: Path) -> list[str]:
    return [f for f in git(root, "-c", "core.quotepath=off", "ls-files", "-z").split("\0") if f]


def covers(pattern: str, path: str) -> bool:
    """A path pattern (a folder, a file or a glob) covers `path`, or a folder above it."""
    pattern = pattern.strip("/")
    if path == pattern or path.startswith(pattern + "/"):
        return True
    parts = path.split("/")
    return any(fnmatch.fnmatchcase("/".join(parts[:i]), pattern) for i in range(1, len(parts) + 1))


# ----------------------------------------------------------------------------- checks


class Context:
    def __init__(self, root: Path, base: str, result: dict | None = None, rc: int | None = None):
        self.root, self.base, self.result, self.rc = root, base, result, rc
        self._renders: dict[str, tuple[bool, str]] = {}
        self._docs: dict[str, list] = {}
        self._changed: list[str] | None = None

    def render(self, path: str) -> tuple[bool, str]:
        if path not in self._renders:
            target = self.root / path
            if not target.is_dir():
                self._renders[path] = (False, f"{path} does not exist")
            else:
                p = subprocess.run(["kubectl", "kustomize", str(target)], capture_output=True,
                                   text=True)
                self._renders[path] = (
                    (True, p.stdout) if p.returncode == 0
                    else (False, f"kubectl kustomize {path} failed: {p.stderr.strip()[-300:]}"))
        return self._renders[path]

    def docs(self, path: str) -> list:
        if path not in self._docs:
            ok, out = self.render(path)
            if not ok:
                raise CheckFailed(out)
            try:
                self._docs[path] = [d for d in miniyaml.load_all(out) if isinstance(d, dict)]
            except miniyaml.YamlError as e:
                raise CheckFailed(f"cannot read the render of {path}: {e}") from e
        return self._docs[path]

    def new(self) -> set[str]:
        """Changed files the base commit does not have."""
        in_base = set(git(self.root, "-c", "core.quotepath=off", "ls-tree", "-r", "--name-only",
                          "-z", self.base).split("\0"))
        return {f for f in self.changed() if f not in in_base}

    def changed(self) -> list[str]:
        if self._changed is None:
            self._changed = changed_files(self.root, self.base)
        return self._changed


class CheckFailed(Exception):
    pass


def norm(v):
    if isinstance(v, dict):
        return {str(k): norm(x) for k, x in v.items()}
    if isinstance(v, list):
        return [norm(x) for x in v]
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return None
    return str(v)


QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")
SUFFIX = {None: 1, "n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000),
          "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
          "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}


def quantity(v) -> Fraction | None:
    if v is None:
        return None
    m = QUANTITY.match(str(v).strip())
    if not m:
        return None
    return Fraction(m.group(1)) * SUFFIX[m.group(2)]


FIELD_TOKEN = re.compile(r"\[([^\]]*)\]|\.?([^.\[\]]+)")


def parse_field(field: str) -> list[tuple[str, object]]:
    segs, pos = [], 0
    for m in FIELD_TOKEN.finditer(field):
        if m.start() != pos:
            raise CheckFailed(f"cannot read field path {field!r} at {pos}")
        pos = m.end()
        if m.group(2) is not None:
            segs.append(("key", m.group(2)))
            continue
        b = m.group(1).strip()
        if len(b) >= 2 and b[0] == b[-1] and b[0] in "\"'":
            segs.append(("key", b[1:-1]))
        elif b == "*":
            segs.append(("all", None))
        elif re.fullmatch(r"-?\d+", b):
            segs.append(("index", int(b)))
        elif b.startswith("-"):
            segs.append(("flag", b))
        elif "=" in b:
            k, v = b.split("=", 1)
            segs.append(("where", (k.strip(), v.strip())))
        else:
            segs.append(("where", ("name", b)))
    if pos != len(field):
        raise CheckFailed(f"cannot read field path {field!r}")
    return segs


def resolve(doc, segs) -> list:
    cur = [doc]
    for kind, arg in segs:
        nxt = []
        for v in cur:
            if kind == "key" and isinstance(v, dict) and arg in v:
                nxt.append(v[arg])
            elif kind == "all" and isinstance(v, list):
                nxt.extend(v)
            elif kind == "all" and isinstance(v, dict):
                nxt.extend(v.values())
            elif kind == "index" and isinstance(v, list) and -len(v) <= arg < len(v):
                nxt.append(v[arg])
            elif kind == "where" and isinstance(v, list):
                k, want = arg
                nxt.extend(i for i in v if isinstance(i, dict) and norm(i.get(k)) == want)
            elif kind == "flag" and isinstance(v, list):
                for i in v:
                    if isinstance(i, str) and (i == arg or i.startswith(arg + "=")):
                        nxt.append(i[len(arg) + 1:] if "=" in i[len(arg):len(arg) + 1] else "")
        cur = nxt
    return cur


def select_objects(docs: list, spec: str, namespace: str | None) -> list:
    kind, _, name = spec.partition("/")
    out = []
    for d in docs:
        md = d.get("metadata") or {}
        if not fnmatch.fnmatchcase(str(d.get("kind", "")), kind or "*"):
            continue
        if not fnmatch.fnmatchcase(str(md.get("name", "")), name or "*"):
            continue
        if namespace is not None and md.get("namespace") != namespace:
            continue
        out.append(d)
    return out


def short(v) -> str:
    s = json.dumps(v) if not isinstance(v, str) else repr(v)
    return s if len(s) <= 120 else s[:117] + "..."


def check_field(ctx: Context, c: dict) -> str:
    docs = ctx.docs(c["path"])
    objs = select_objects(docs, c["object"], c.get("namespace"))
    if not objs:
        have = ", ".join(f"{d.get('kind')}/{(d.get('metadata') or {}).get('name')}" for d in docs)
        raise CheckFailed(f"no {c['object']} in the render of {c['path']} (has: {have[:300]})")
    segs = parse_field(c["field"])
    for obj in objs:
        label = f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')} {c['field']} in {c['path']}"
        values = resolve(obj, segs)
        empty_like = [v for v in values if v not in (None, [], {}, "")]
        if c.get("absent"):
            if values and any(v is not None for v in values):
                raise CheckFailed(f"{label} is set ({short(values[0])}), expected absent")
            continue
        if c.get("empty"):
            if empty_like:
                raise CheckFailed(f"{label} is {short(empty_like[0])}, expected empty or absent")
            continue
        if not values:
            raise CheckFailed(f"{label} is not set")
        for v in values:
            if "equals" in c and norm(v) != norm(c["equals"]):
                raise CheckFailed(f"{label} is {short(v)}, expected {short(norm(c['equals']))}")
            if "one_of" in c and norm(v) not in [norm(x) for x in c["one_of"]]:
                raise CheckFailed(f"{label} is {short(v)}, expected one of {c['one_of']}")
            if "contains" in c:
                want = norm(c["contains"])
                if isinstance(v, list):
                    ok = want in norm(v)
                elif isinstance(v, dict):
                    ok = want in v
                else:
                    ok = v is not None and want in str(v)
                if not ok:
                    raise CheckFailed(f"{label} is {short(v)}, expected it to contain {short(want)}")
            if "matches" in c and not (isinstance(v, str) and re.search(c["matches"], v)):
                raise CheckFailed(f"{label} is {short(v)}, expected to match /{c['matches']}/")
            if "quantity" in c:
                got, want = quantity(v), quantity(c["quantity"])
                if want is None:
                    raise CheckFailed(f"bad quantity in task: {c['quantity']!r}")
                if got != want:
                    raise CheckFailed(f"{label} is {short(v)}, expected the quantity {c['quantity']}")
    return ""


def glob_files(root: Path, patterns) -> list[Path]:
    out = []
    for pat in [patterns] if isinstance(patterns, str) else patterns:
        out.extend(p for p in root.glob(pat) if ".agentops" not in p.relative_to(root).parts)
    return sorted(set(out))


def run_check(ctx: Context, c: dict) -> None:
    """Raises CheckFailed with the reason when `c` does not hold."""
    kind = c["kind"]
    if kind in ("render_contains", "render_not_contains"):
        ok, out = ctx.render(c["path"])
        if not ok:
            raise CheckFailed(out)
        wants = [c["contains"]] if isinstance(c["contains"], str) else c["contains"]
        for w in wants:
            if (w in out) != (kind == "render_contains"):
                raise CheckFailed(f"render of {c['path']} {'lacks' if kind == 'render_contains' else 'contains'} {w!r}")
    elif kind == "render_field":
        check_field(ctx, c)
    elif kind == "unchanged":
        changed = ctx.changed()
        if c.get("allow_new"):
            changed = [f for f in changed if f not in ctx.new()]
        hit = [f for f in changed if any(covers(p, f) for p in c["paths"])]
        if hit:
            raise CheckFailed(f"changed but should not be: {', '.join(hit[:5])}")
    elif kind == "changed":
        for p in c["paths"]:
            if not any(covers(p, f) for f in ctx.changed()):
                raise CheckFailed(f"{p} did not change")
    elif kind == "nothing_changed":
        if ctx.changed():
            raise CheckFailed(f"files changed: {', '.join(ctx.changed()[:5])}")
    elif kind == "file_contains":
        files = [f for f in glob_files(ctx.root, c["paths"]) if f.is_file()]
        if not files:
            raise CheckFailed(f"no file matches {c['paths']}")
        wants = [c["contains"]] if isinstance(c["contains"], str) else c["contains"]
        if not any(all(w in f.read_text(errors="replace") for w in wants) for f in files):
            raise CheckFailed(f"no file of {c['paths']} contains all of {wants}")
    elif kind == "file_absent":
        found = glob_files(ctx.root, c["paths"])
        if found:
            raise CheckFailed(f"should not exist: {', '.join(str(f.relative_to(ctx.root)) for f in found[:5])}")
    elif kind == "file_exists":
        for p in c["paths"]:
            if not glob_files(ctx.root, p):
                raise CheckFailed(f"{p} does not exist")
    elif kind == "answer_contains":
        text = ((ctx.result or {}).get("result") or "").lower()
        for w in c.get("all", []):
            if w.lower() not in text:
                raise CheckFailed(f"answer lacks {w!r}")
        if c.get("any") and not any(w.lower() in text for w in c["any"]):
            raise CheckFailed(f"answer has none of {c['any']}")
    elif kind == "answer_regex":
        text = (ctx.result or {}).get("result") or ""
        if not re.search(c["pattern"], text, re.I | re.S):
            raise CheckFailed(f"answer does not match /{c['pattern']}/")
        if c.get("not_pattern") and re.search(c["not_pattern"], text, re.I | re.S):
            raise CheckFailed(f"answer matches /{c['not_pattern']}/")
    elif kind == "exit_code":
        if ctx.rc != c["equals"]:
            raise CheckFailed(f"exit code {ctx.rc}, expected {c['equals']}")


def evaluate(ctx: Context, checks: list[dict], files_only: bool = False) -> list[str]:
    """The reasons the checks fail (numbered as in the task file); `files_only` skips the
    checks that need a model run."""
    failures = []
    for i, c in enumerate(checks):
        if files_only and c["kind"] in MODEL_ONLY_CHECKS:
            continue
        try:
            run_check(ctx, c)
        except CheckFailed as e:
            failures.append(f"[{i + 1} {c['kind']}] {e}")
    return failures


# ----------------------------------------------------------------------------- agentops


def find_agentops(explicit: str | None) -> str:
    # Tasks run in their own temporary copies: a relative path must not depend on that.
    given = explicit or os.environ.get("AGENTOPS_BIN")
    if given:
        return os.path.abspath(given) if os.sep in given else (shutil.which(given) or given)
    built = [p for p in (REPO / "target/release/agentops", REPO / "target/debug/agentops")
             if p.is_file() and os.access(p, os.X_OK)]
    if built:
        return str(max(built, key=lambda p: p.stat().st_mtime))
    return shutil.which("agentops") or "agentops"


def agentops_command(task: dict, binary: str, args) -> list[str]:
    cmd = [binary, "run", "--output-format", "json"]
    for rule in task.get("approve", []):
        cmd += ["--approve", rule]
    allowed = task["allowed_tools"] if "allowed_tools" in task else args.allowed_tools.split(",")
    allowed = [a.strip() for a in allowed if a.strip()]
    if allowed:
        cmd += ["--allowed-tools", ",".join(allowed)]
    if task.get("max_turns") or args.max_turns:
        cmd += ["--max-turns", str(args.max_turns or task["max_turns"])]
    if args.max_budget_usd:
        cmd += ["--max-budget-usd", str(args.max_budget_usd)]
    if args.bash_only:
        cmd += ["--agent", BASELINE_AGENT]
    elif task.get("agent"):
        cmd += ["--agent", task["agent"]]
    cmd += ["--", task["prompt"]]
    return cmd


def run_agentops(cmd: list[str], cwd: Path, timeout: float,
                 env: dict | None = None) -> tuple[int | None, dict | None, str, bool]:
    """(exit code, result object, stderr tail, timed out)."""
    try:
        p = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True, env=env)
    except OSError as e:
        raise TaskError(f"cannot run {cmd[0]}: {e}") from e
    timed_out = False
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(p.pid, signal.SIGTERM)  # our own child's group: agentops saves its session
        try:
            out, err = p.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            out, err = p.communicate()
    result = None
    for line in reversed(out.splitlines()):
        line = line.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and obj.get("type") == "result":
            result = obj
            break
    return p.returncode, result, err.strip()[-600:], timed_out


# ----------------------------------------------------------------------------- modes


def run_task(task: dict, binary: str, args) -> dict:
    started = time.monotonic()
    rec = {"task": task["_file"], "name": task["name"], "tree": task["tree"],
           "kind": task.get("kind", ""), "passed": False, "failures": []}
    tmp = None
    try:
        tmp, root, base = prepare(task, args.bash_only, args.config)
        cmd = agentops_command(task, binary, args)
        rec["command"] = cmd[1:]
        env = None
        if args.clean_home:
            # No ~/.claude agents, commands, settings or hooks of the person running the suite.
            home = tmp / "home"
            home.mkdir()
            env = dict(os.environ, HOME=str(home))
        rc, result, err, timed_out = run_agentops(cmd, root, task.get("timeout", args.timeout), env)
        rec.update(exit_code=rc, outcome=(result or {}).get("outcome"))
        if result:
            rec.update(turns=result.get("turns"), cost_usd=result.get("cost_usd"),
                       usage=result.get("usage"), summary=result.get("summary"),
                       answer=(result.get("result") or "")[:2000],
                       session_id=result.get("session_id"))
        failures = []
        if timed_out:
            failures.append(f"timed out after {task.get('timeout', args.timeout)}s")
        if result is None:
            failures.append(f"no result object (exit {rc}): {err[-300:]}")
        elif result.get("outcome") != task["expect_outcome"]:
            why = result.get("error") or result.get("summary") or ""
            failures.append(f"outcome {result.get('outcome')} (expected {task['expect_outcome']}): {why[:300]}")
        ctx = Context(root, base, result, rc)
        failures += evaluate(ctx, task["check"])
        rec["changed_files"] = ctx.changed()
        rec["failures"] = failures
        rec["passed"] = not failures
    except TaskError as e:
        rec["failures"] = [f"setup: {e}"]
    finally:
        rec["seconds"] = round(time.monotonic() - started, 1)
        if tmp is not None:
            if args.keep:
                rec["kept"] = str(tmp)
            else:
                shutil.rmtree(tmp, ignore_errors=True)
    return rec


MUTATION = "\n# eval self-test: an edit nobody asked for\n"


def self_test_task(task: dict, args) -> dict:
    """Untouched: the checks fail (a no-change task's hold). Oracle: they all hold. Guards:
    an unrequested edit under an `unchanged`/`nothing_changed` check breaks it. Sabotage
    (optional): a plausible wrong change breaks at least one check."""
    started = time.monotonic()
    rec = {"task": task["_file"], "name": task["name"], "tree": task["tree"],
           "kind": task.get("kind", ""), "passed": False, "failures": []}
    checks = [c for c in task["check"] if c["kind"] not in MODEL_ONLY_CHECKS]
    tmp = None
    problems = []
    try:
        if not checks:
            raise TaskError("no file or render check to self-test")
        tmp, root, base = prepare(task, False)
        before = evaluate(Context(root, base), task["check"], files_only=True)
        if no_change_task(task):
            if before:
                problems.append("untouched tree fails: " + "; ".join(before))
        elif not before:
            problems.append("every check already holds on the untouched tree")
        rec["untouched_failures"] = before
        sh(task["oracle"], root, "oracle")
        after = evaluate(Context(root, base), task["check"], files_only=True)
        if after:
            problems.append("after the oracle: " + "; ".join(after))
        # Guards: each unchanged/nothing_changed check must notice an unrequested edit.
        for i, c in enumerate(task["check"]):
            if c["kind"] not in GUARD_CHECKS:
                continue
            files = tracked_files(root)
            if c["kind"] == "unchanged":
                files = [f for f in files if any(covers(p, f) for p in c["paths"])]
                missing = [p for p in c["paths"]
                           if not any(covers(p, f) for f in tracked_files(root))]
                if missing:
                    problems.append(f"[{i + 1} unchanged] guards nothing in the tree: {missing}")
            candidates = [f for f in files if f.endswith((".yaml", ".yml"))] or files
            if not candidates:
                problems.append(f"[{i + 1} {c['kind']}] no file to mutate")
                continue
            target = root / candidates[0]
            original = target.read_bytes()
            target.write_bytes(original + MUTATION.encode())
            try:
                run_check(Context(root, base), c)
                problems.append(f"[{i + 1} {c['kind']}] still holds after editing {candidates[0]}")
            except CheckFailed:
                pass
            finally:
                target.write_bytes(original)
        if task.get("sabotage"):
            sh(task["sabotage"], root, "sabotage")
            rec["sabotage_failures"] = evaluate(Context(root, base), task["check"], files_only=True)
            if not rec["sabotage_failures"]:
                problems.append("the sabotage (a wrong change) passes every check")
    except (TaskError, CheckFailed) as e:
        problems.append(str(e))
    finally:
        if tmp is not None:
            if args.keep:
                rec["kept"] = str(tmp)
            else:
                shutil.rmtree(tmp, ignore_errors=True)
    rec["failures"] = problems
    rec["passed"] = not problems
    rec["seconds"] = round(time.monotonic() - started, 1)
    return rec


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--filter", action="append", default=[],
                    help="only tasks whose file or name contains SUBSTR (repeatable: any)")
    ap.add_argument("--smoke", action="store_true", help="only the task(s) marked smoke = true")
    ap.add_argument("--agentops", help="the agentops binary (default: $AGENTOPS_BIN, the newest of "
                    "target/release and target/debug, else agentops on PATH)")
    ap.add_argument("--self-test", action="store_true",
                    help="no model: prove each task's checks fail untouched and pass with its oracle")
    ap.add_argument("--bash-only", action="store_true",
                    help=f"baseline: run as agent `{BASELINE_AGENT}` offered only {BASELINE_TOOLS}")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per task (default 900)")
    ap.add_argument("--allowed-tools", default=DEFAULT_ALLOWED_TOOLS,
                    help=f"--allowed-tools for tasks that set none (default {DEFAULT_ALLOWED_TOOLS})")
    ap.add_argument("--config", default=os.environ.get("AGENTOPS_EVAL_CONFIG"),
                    help="an agentops.toml (model, providers, tool_mode) put at the root of every "
                    "copy; default: $AGENTOPS_EVAL_CONFIG. Without it the model comes from "
                    "AGENTOPS_BASE_URL/AGENTOPS_MODEL/... in the environment")
    ap.add_argument("--max-turns", type=int, help="--max-turns for every task")
    ap.add_argument("--max-budget-usd", type=float, help="--max-budget-usd for every task")
    ap.add_argument("--clean-home", action="store_true",
                    help="run agentops with an empty HOME (no ~/.claude definitions, settings or hooks)")
    ap.add_argument("--attempts", type=int, default=1,
                    help="runs per task; a task passes if any attempt passes (pass@k; default 1). "
                    "Every failed attempt is printed with its answer")
    ap.add_argument("--json", metavar="OUT", help="write per-task results as JSON")
    ap.add_argument("--keep", action="store_true", help="keep the temporary copies")
    ap.add_argument("--list", action="store_true", help="list the tasks and exit")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="self-test: why each check failed untouched and sabotaged; runs: the answer")
    ap.add_argument("--tasks-dir", default=str(TASKS_DIR), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    try:
        tasks = load_tasks(Path(args.tasks_dir))
    except TaskError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.filter:
        tasks = [t for t in tasks if any(f in t["_file"] or f in t["name"] for f in args.filter)]
    if args.smoke:
        tasks = [t for t in tasks if t.get("smoke")]
    if not tasks:
        print("no task matches", file=sys.stderr)
        return 2
    if args.list:
        for t in tasks:
            print(f"{t['_file']:<44} {t.get('kind', ''):<16} {t['tree']}"
                  f"{'  (smoke)' if t.get('smoke') else ''}")
        return 0

    if args.config and not Path(args.config).is_file():
        print(f"error: --config {args.config}: no such file", file=sys.stderr)
        return 2
    if args.config:
        args.config = str(Path(args.config).resolve())
    binary = None
    if not args.self_test:
        binary = find_agentops(args.agentops)
        mode = "bash-only baseline" if args.bash_only else "agentops tools"
        print(f"agentops: {binary} ({mode})", flush=True)

    records = []
    width = max(len(t["_file"]) for t in tasks)
    for t in tasks:
        if args.self_test:
            rec = self_test_task(t, args)
        else:
            rec = run_task(t, binary, args)
            for attempt in range(2, max(args.attempts, 1) + 1):
                if rec["passed"]:
                    break
                print(f"retry {t['_file']} (attempt {attempt}): attempt {attempt - 1} failed: "
                      + " | ".join(rec["failures"])[:600]
                      + f"; answer: {(rec.get('answer') or '')[:300]!r}", flush=True)
                rec = run_task(t, binary, args)
                rec["attempt"] = attempt
        records.append(rec)
        status = "PASS" if rec["passed"] else "FAIL"
        line = f"{status}  {t['_file']:<{width}}  {rec['seconds']:>6.1f}s"
        if not args.self_test and rec.get("outcome"):
            line += f"  {rec['outcome']}"
        if rec["failures"]:
            line += "  " + " | ".join(rec["failures"])[:600]
        if rec.get("kept"):
            line += f"  (kept {rec['kept']})"
        print(line, flush=True)
        if args.verbose and args.self_test:
            for key in ("untouched_failures", "sabotage_failures"):
                for f in rec.get(key, []):
                    print(f"      {key.split('_')[0]}: {f[:300]}")
        elif (args.verbose or not rec["passed"]) and rec.get("answer") is not None:
            print("      answer: " + rec["answer"][:600].replace("\n", "\n      "))
    passed = sum(r["passed"] for r in records)
    pct = round(100 * passed / len(records))
    label = "self-test" if args.self_test else "pass rate"
    print(f"{label}: {passed}/{len(records)} ({pct}%)")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"mode": "self-test" if args.self_test else ("bash-only" if args.bash_only else "agentops"),
             "agentops": binary, "passed": passed, "total": len(records), "tasks": records},
            indent=2) + "\n")
    return 0 if passed == len(records) else 1


if __name__ == "__main__":
    sys.exit(main())
