"""Issue #16.10: the import graph that docs/architecture.md describes, checked on the source with `ast`.

Imports sit at the top of a module, so its head shows what it stands on; a function-level import says why it is
lazy (`# lazy: <why>`). The domain never imports the shells (web/ is the only user of Flask, cli/ the only user of
click), each layer imports only what lies below it, and the CLI's start loads none of the heavy libraries.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "archiveprint"

# Modules not yet moved to top-level imports: cli/ and web/ (other branches of #16.10) and the six configuration
# validators being rewritten for #16.11. This list must become empty once those branches are merged.
PENDING = (
)

# Low to high: a module imports its own layer and the layers below it, never a higher one. The longest matching
# prefix decides.
LAYERS = {
    # plumbing: settings, engine, errors, event rows, clock, files; the jobs table and its dispatcher
    "archiveprint.config": 0, "archiveprint.db": 0, "archiveprint.errors": 0, "archiveprint.eventlog": 0,
    "archiveprint.clock": 0, "archiveprint.resources": 0, "archiveprint.diskcache": 0, "archiveprint.migrate": 0,
    "archiveprint.configfile": 0, "archiveprint.msgids": 0,
    "archiveprint.jobs.models": 0, "archiveprint.jobs.queue": 0,
    "archiveprint.pdf": 1,  # the print engine
    "archiveprint.accounts": 2,
    "archiveprint.register": 3,
    "archiveprint.sites.models": 0,  # the sites table and where a session keeps the site it works in
    "archiveprint.sites": 3,  # adding a site makes its township (register) and counts its users (accounts)
    # a transfer between sites (机构撤并): the handover, the shelving, the scope of each site, its documents
    "archiveprint.sites.transfer": 6, "archiveprint.sites.documents": 6,
    "archiveprint.sites.transferjob": 6,  # a transfer as a background job: the jobs table, the transfer, its documents
    "archiveprint.locations": 4,
    "archiveprint.lending": 5, "archiveprint.forms": 5, "archiveprint.labels": 5,
    # what runs the jobs above, applies a user's scope to them, or copies every table
    "archiveprint.jobs": 6, "archiveprint.backup": 6,
    "archiveprint.intake": 6,  # returned pages: the register, the forms' marks and the walking order together
    "archiveprint.due": 6,  # who is due and the monthly packet: the register, the forms and the pick list together
    "archiveprint.indicators": 6,  # 常住人口, 建档率 and 在架率: the register, the shelves and the services done
    "archiveprint.inspections": 6,  # 抽查: the register, the shelves, the due schedules and visits together
    "archiveprint.accounts.scope": 6,  # the scope hook names every table that holds a person (register ... lending)
    # the shells, and the lists of every table (for Alembic)
    "archiveprint.cli": 7, "archiveprint.web": 7, "archiveprint.models": 7, "archiveprint.migrations": 7,
    "archiveprint.jobs.worker": 7,  # the RQ worker's entry point (`rq worker --worker-class`), a shell like cli
}
# Imports across the shells that are part of the design, not a leak.
SHELL_EXCEPTIONS = {("archiveprint.cli.serve", "archiveprint.web")}  # `archiveprint serve` starts the web app
# The document packages stand side by side: none imports another (a fact one needs from another is passed in).
PEERS = ("archiveprint.lending", "archiveprint.forms", "archiveprint.labels")

# Loaded only by the code path that needs it (each such import says why): the CLI and the domain start without them.
HEAVY = ("weasyprint", "openpyxl", "pypdfium2", "segno", "barcode", "fontTools.subset", "rq", "redis", "pypinyin",
         "charset_normalizer", "jinja2", "flask", "zxingcpp", "matplotlib")


@dataclass(frozen=True)
class Import:
    """One import statement's target, where it is and how it is reached."""

    importer: str  # dotted module name
    path: str  # archiveprint/...py
    line: int
    target: str  # the module imported (a package's submodule when `from package import submodule`)
    in_function: bool
    type_only: bool  # under `if TYPE_CHECKING:`
    source: str  # the statement's first line

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}: {self.source.strip()}"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


@cache
def imports() -> tuple[Import, ...]:
    known = modules()
    return tuple(found for name, path in known.items() for found in imports_of(name, path, known))


def imports_of(name: str, path: Path, known: dict[str, Path]) -> list[Import]:
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    rel = path.relative_to(ROOT).as_posix()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[Import] = []

    def targets(node: ast.Import | ast.ImportFrom) -> list[str]:
        if isinstance(node, ast.Import):
            return [alias.name for alias in node.names]
        base = node.module or ""
        if node.level:  # relative: against the importing package
            parent = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
            base = f"{parent}.{base}" if base else parent
        return [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]

    def visit(node: ast.AST, in_function: bool, type_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.extend(Import(name, rel, child.lineno, target, in_function, type_only, lines[child.lineno - 1])
                             for target in targets(child))
            visit(child, in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda),
                  type_only or (isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test)))

    visit(ast.parse(text, filename=rel), False, False)
    return found


def pending(path: str) -> bool:
    return any(path == entry or (entry.endswith("/") and path.startswith(entry)) for entry in PENDING)


def layer(module: str) -> tuple[str, int] | None:
    """(the matching LAYERS key, its layer) for an archiveprint module; None for anything else."""
    for key in sorted(LAYERS, key=len, reverse=True):
        if module == key or module.startswith(key + "."):
            return key, LAYERS[key]
    return None


def test_every_function_level_import_says_why_it_is_lazy():
    unmarked = [i.where for i in imports() if i.in_function and "# lazy:" not in i.source and not pending(i.path)]
    assert not unmarked, ("imports inside functions belong at the top of the module, or say why not with a "
                          "trailing `# lazy: <why>`:\n" + "\n".join(unmarked))


def test_every_pending_entry_names_something_that_exists():
    missing = [entry for entry in PENDING if not (ROOT / entry).exists()]
    assert not missing


def test_only_the_web_imports_flask_and_only_the_cli_imports_click():
    """The domain is free of both shells (a service gets its actor and its clock as arguments), and neither shell
    imports the other except `archiveprint serve`, which starts the web app."""
    rules = {  # (what is imported, the one package allowed to import it)
        "flask": "archiveprint.web", "flask_login": "archiveprint.web", "flask_wtf": "archiveprint.web",
        "flask_babel": "archiveprint.web", "werkzeug": "archiveprint.web", "archiveprint.web": "archiveprint.web",
        "click": "archiveprint.cli", "archiveprint.cli": "archiveprint.cli",
    }
    leaks = []
    for i in imports():
        for imported, owner in rules.items():
            inside = i.importer == owner or i.importer.startswith(owner + ".")
            if (i.target == imported or i.target.startswith(imported + ".")) and not inside \
                    and (i.importer, imported) not in SHELL_EXCEPTIONS:
                leaks.append(i.where)
    assert not leaks, "a shell's library or module imported outside that shell:\n" + "\n".join(leaks)


def test_each_layer_imports_only_what_lies_below_it():
    """Type-only imports (under TYPE_CHECKING) may name any class; everything else runs downwards."""
    upward = []
    for i in imports():
        own, target = layer(i.importer), layer(i.target)
        if i.type_only or own is None or target is None:
            continue
        peers = {peer for peer in PEERS for name in (i.importer, i.target) if name.startswith(peer + ".")}
        if target[1] > own[1] or len(peers) == 2:
            upward.append(f"{i.where}  (layer {own[1]} → {target[1]})")
    assert not upward, "an import against the layers (see LAYERS and docs/architecture.md):\n" + "\n".join(upward)


def test_every_module_has_a_layer():
    assert [name for name in modules() if name != "archiveprint" and layer(name) is None] == []


def test_the_cli_and_the_domain_start_without_weasyprint_or_another_heavy_library():
    """Every module but the web app's imported in one process (what `archiveprint` may load once each command
    imports its services at the top): WeasyPrint, openpyxl, pypdfium2 and the rest stay unloaded until a page is
    laid out, a workbook written, a thumbnail drawn. `archiveprint serve` is the web app: its module (loaded only
    when `serve` runs, cli/__init__.py names each command's module) imports Flask, so it is left out too."""
    names = [name for name in modules()
             if not name.startswith(("archiveprint.web", "archiveprint.migrations", "archiveprint.cli.serve",
                                     "archiveprint.jobs.worker"))]  # rq's own worker class: rq is its base
    code = ("import importlib, sys\n"
            f"for name in {names!r}:\n"
            "    importlib.import_module(name)\n"
            f"print(sorted(h for h in {HEAVY!r} if h in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]", f"loaded at start: {done.stdout.strip()}"
