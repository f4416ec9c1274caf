"""Lower modules never import higher ones (docs/ARCHITECTURE.md, "Layers").

Every import in simgan_tf/ counts, also those inside functions: a cycle hidden in a function
is still a cycle. A new module must be given a layer here and in docs/ARCHITECTURE.md.
"""
import ast
from pathlib import Path

import pytest

from conftest import REPO_ROOT

# Layer of each module, lowest first; a module may import its own layer or lower ones.
LAYERS: dict[str, int] = {
    # 1 foundation: settings, maths, figures; no training machinery
    "simgan_tf.runtime": 1, "simgan_tf.strategies": 1, "simgan_tf.config": 1, "simgan_tf.losses": 1, "simgan_tf.history": 1,
    "simgan_tf.metrics": 1, "simgan_tf.intervals": 1, "simgan_tf.viz": 1, "simgan_tf.label_preservation": 1,
    "simgan_tf.joint_preservation": 1,
    "simgan_tf.export.settings": 1, "simgan_tf.export.contract": 1, "simgan_tf.experiments.layout": 1,
    # 2 data and networks
    "simgan_tf.data": 2, "simgan_tf.target_folder": 2, "simgan_tf.critic": 2,
    "simgan_tf.models": 2, "simgan_tf.models.refiner": 2, "simgan_tf.models.discriminator": 2,
    "simgan_tf.estimators": 2, "simgan_tf.estimators.gaze": 2, "simgan_tf.estimators.hand": 2,
    # 3 run directories: config.json, checkpoints, samples, summary
    "simgan_tf.run_io": 3,
    # 4 the engine: Algorithm 1
    "simgan_tf.trainer": 4, "simgan_tf.convergence": 4,
    # 5 deployment
    "simgan_tf.export": 5, "simgan_tf.export.saved_model": 5, "simgan_tf.export.parity": 5,
    "simgan_tf.export.litert": 5, "simgan_tf.export.tflite": 5, "simgan_tf.export.exporter": 5,
    "simgan_tf.refine": 5,
    # 6 experiments
    "simgan_tf.experiments": 6, "simgan_tf.experiments.settings": 6, "simgan_tf.experiments.sources": 6,
    "simgan_tf.experiments.report": 6, "simgan_tf.experiments.gaze": 6, "simgan_tf.experiments.common": 6,
    "simgan_tf.experiments.hand_settings": 6, "simgan_tf.experiments.hand_sources": 6,
    "simgan_tf.experiments.hand_report": 6, "simgan_tf.experiments.hand": 6, "simgan_tf.experiments.compare_runs": 6,
    # 7 command lines
    "simgan_tf.train_cli": 7, "simgan_tf.export.cli": 7, "simgan_tf.export.__main__": 7,
    # the package itself only names the public API (resolved lazily, not imported)
    "simgan_tf": 8,
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules(package: str) -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((REPO_ROOT / package).rglob("*.py"))
            if "dummy_data" not in p.parts and not p.name.endswith("_test.py")}


def _imports(path: Path, known: set[str]) -> set[str]:
    """Project modules `path` imports anywhere in its code."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in known else node.module
                     for alias in node.names]
        else:
            continue
        out |= {n for n in names if n.split(".")[0] in ("simgan_tf", "tfds_builders")}
    return out


SIMGAN = _modules("simgan_tf")
BUILDERS = _modules("tfds_builders")


def test_every_module_has_a_layer():
    assert sorted(set(SIMGAN) - set(LAYERS)) == []


@pytest.mark.parametrize("module", sorted(SIMGAN))
def test_module_imports_only_its_layer_or_lower(module):
    known = set(SIMGAN) | set(BUILDERS)
    for imported in _imports(SIMGAN[module], known):
        if imported.startswith("tfds_builders"):
            continue  # the datasets sit below the whole library
        target = next(m for m in sorted(LAYERS, key=len, reverse=True)
                      if imported == m or imported.startswith(m + "."))
        assert LAYERS[target] <= LAYERS[module], f"{module} (layer {LAYERS[module]}) imports {imported} (layer {LAYERS[target]})"


def test_no_import_cycles_in_the_library():
    known = set(SIMGAN) | set(BUILDERS)
    graph = {m: {i for i in _imports(p, known) if i in SIMGAN and i != m} for m, p in SIMGAN.items()}
    visiting, done = set(), set()

    def visit(node, trail):
        if node in visiting:
            raise AssertionError("import cycle: " + " -> ".join(trail[trail.index(node):] + [node]))
        if node in done:
            return
        visiting.add(node)
        for nxt in sorted(graph[node]):
            visit(nxt, trail + [node])
        visiting.discard(node)
        done.add(node)

    for module in sorted(graph):
        visit(module, [])


def test_dataset_builders_do_not_import_the_library():
    offenders = {m: sorted(i for i in _imports(p, set(BUILDERS)) if i.startswith("simgan_tf"))
                 for m, p in BUILDERS.items()}
    assert {m: v for m, v in offenders.items() if v} == {}
