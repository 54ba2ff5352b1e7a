"""The layers of STYLE.md hold: import-linter's contracts in pyproject.toml are kept, and each
contract breaks when an import it forbids appears."""

from __future__ import annotations

import subprocess
import sys
from copy import deepcopy
from pathlib import Path
from typing import Any

import grimp
import pytest
from importlinter.api import read_configuration
from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.contracts.layers import LayersContract

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "pyproject.toml"
_CONTRACT_TYPES: dict[str, Any] = {"layers": LayersContract, "forbidden": ForbiddenContract}


def test_the_code_keeps_every_layer_contract() -> None:
    # given the code as it is, when lint-imports checks pyproject.toml's contracts
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports), "--no-cache", "--no-logo", str(CONFIG)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # then every contract is kept (and every ignored import still exists)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def configuration() -> dict[str, Any]:
    return read_configuration(str(CONFIG))


@pytest.fixture(scope="module")
def import_graph(configuration: dict[str, Any]) -> grimp.ImportGraph:
    session = configuration["session_options"]
    return grimp.build_graph(
        *session["root_packages"],
        include_external_packages=session["include_external_packages"] in (True, "true", "True"),
        exclude_type_checking_imports=session.get("exclude_type_checking_imports")
        in (True, "true", "True"),
        cache_dir=None,
    )


def _kept(
    configuration: dict[str, Any],
    graph: grimp.ImportGraph,
    contract_id: str,
    extra: tuple[str, str] | None = None,
) -> bool:
    options = next(c for c in configuration["contracts_options"] if c.get("id") == contract_id)
    contract = _CONTRACT_TYPES[options["type"]](
        name=options["name"],
        session_options=configuration["session_options"],
        contract_options=options,
    )
    changed = deepcopy(graph)
    if extra is not None:
        importer, imported = extra
        changed.add_import(importer=importer, imported=imported, line_number=1, line_contents="")
    return bool(contract.check(changed, verbose=False).kept)


@pytest.mark.parametrize(
    ("contract_id", "importer", "imported"),
    [
        # domain/ is pure Python: no other layer of ours, no database, GraphQL or HTTP library
        ("pure-domain", "domain.money", "infra.db"),
        ("pure-domain", "domain.services.customers", "infra.uow"),
        ("pure-domain", "domain.customers", "auth.principal"),
        ("pure-domain", "domain.ports", "sqlalchemy"),
        ("pure-domain", "domain.plans", "strawberry"),
        ("layers", "domain.services.plans", "resolvers.errors"),
        # a new import from resolvers/ back into schema/ is a cycle, for an old module or a new
        # concept's
        ("layers", "resolvers.loaders", "schema.customers"),
        ("layers", "resolvers.customers", "schema.scalars"),
        ("layers", "resolvers.invoices", "schema.invoices"),
        # auth/ is asked by schema/ and resolvers/; it never asks them
        ("layers", "auth.scopes", "resolvers.context"),
        ("layers", "auth.principal", "schema.customers"),
        # only infra/ assembles the application from its parts
        ("layers", "resolvers.context", "infra.db"),
        ("layers", "schema.schema", "infra.app"),
        ("layers", "auth.tokens", "infra.settings"),
        # SQL knows nothing of how the API presents it
        ("persistence-below-the-api", "infra.repositories.customers", "schema.customers"),
        ("persistence-below-the-api", "infra.uow", "auth.principal"),
    ],
)
def test_a_contract_breaks_when_a_forbidden_import_appears(
    configuration: dict[str, Any],
    import_graph: grimp.ImportGraph,
    contract_id: str,
    importer: str,
    imported: str,
) -> None:
    # given the contract is kept by today's code
    assert _kept(configuration, import_graph, contract_id)
    # when the forbidden import is added, then the contract is broken
    assert not _kept(configuration, import_graph, contract_id, (importer, imported))
