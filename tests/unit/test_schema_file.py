"""The committed schema.graphql is the schema the code serves."""

from pathlib import Path

from schema.schema import schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_committed_schema_matches_the_code() -> None:
    # given the SDL the code builds
    current = schema.as_str() + "\n"
    # then the committed file is the same (regenerate: ./dev export-schema --output schema.graphql)
    assert SCHEMA_FILE.read_text() == current, (
        "schema.graphql is stale: run `./dev export-schema --output schema.graphql`"
    )
