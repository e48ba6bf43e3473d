"""Checks model answers against the JSON Schemas they were constrained by and prints, as one JSON object, which
ones fail. GatewayTests' structured-output tests run the corpus in GatewayTests/Schemas/corpus.json through the
gateway, write the answers to a file and assert on this script's report.

Usage: validate_schemas.py ANSWERS.json

ANSWERS.json holds an array of {"name": ..., "schema": {...}, "answer": "<the model's raw text>"} (other keys are
ignored). Each answer must parse as strict JSON (no NaN/Infinity, no repeated key in an object) and validate
against its schema with the validator for the schema's draft (`$schema`, 2020-12 when absent) and that draft's
format checker, which checks date, time, date-time (RFC 3339, with rfc3339-validator installed) and uuid.

Prints {"checked": N, "failures": [{"name", "answer", "error"}, ...]} and exits 0, failures or not; exits 2 on a
usage error (wrong arguments, unreadable file, not an array of such objects).
"""
import json
import sys

from jsonschema.exceptions import SchemaError
from jsonschema.validators import validator_for


def usage(message):
    print(f"validate_schemas.py: {message}\nusage: validate_schemas.py ANSWERS.json", file=sys.stderr)
    sys.exit(2)


def strict_object(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"repeated key {key!r}")
        seen[key] = value
    return seen


def reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def location(path):
    return "/" + "/".join(str(part) for part in path)


def check(schema, answer):
    """The reason `answer` does not satisfy `schema`, or None."""
    if not isinstance(answer, str):
        return f"answer is not a string but {type(answer).__name__}"
    try:
        instance = json.loads(answer, object_pairs_hook=strict_object, parse_constant=reject_constant)
    except ValueError as error:  # json.JSONDecodeError is a ValueError
        return f"not JSON: {error}"
    cls = validator_for(schema)
    try:
        cls.check_schema(schema)
    except SchemaError as error:
        return f"invalid schema: {error.message} at {location(error.path)}"
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(instance), key=lambda error: list(map(str, error.path)))
    if not errors:
        return None
    return "; ".join(f"{location(error.path)}: {error.message}" for error in errors[:3]) + (
        f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    )


def main():
    if len(sys.argv) != 2:
        usage("expected exactly one argument")
    try:
        with open(sys.argv[1], encoding="utf-8") as file:
            cases = json.load(file)
    except (OSError, ValueError) as error:
        usage(f"cannot read {sys.argv[1]}: {error}")
    if not isinstance(cases, list):
        usage("the file must hold a JSON array")
    for index, case in enumerate(cases):
        if not isinstance(case, dict) or not {"name", "schema", "answer"} <= case.keys():
            usage(f"entry {index} is not an object with name, schema and answer")
        if not isinstance(case["schema"], (dict, bool)):
            usage(f"entry {index} ({case['name']}): schema is not an object")
    failures = []
    for case in cases:
        error = check(case["schema"], case["answer"])
        if error is not None:
            failures.append({"name": case["name"], "answer": case["answer"], "error": error})
    print(json.dumps({"checked": len(cases), "failures": failures}))


if __name__ == "__main__":
    main()
