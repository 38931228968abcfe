"""How a value the service sends differs from the OpenAPI document's schema for it: the one check that the API's
responses (tests/api/test_schema_drift.py) and the sockets' messages (tests/api/test_socket_payload_schema.py)
agree with what the document declares."""


def component(name: str) -> dict:
    """A reference to one of the document's components, as a schema `drift` takes."""
    return {"$ref": f"#/components/schemas/{name}"}


def _resolve(document: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return _resolve(document, schema["allOf"][0])
    return schema


def drift(document: dict, schema: dict, value, where: str) -> list[str]:
    """How `value` differs from `schema`: keys sent but not declared, declared required but not sent."""
    if value is None and schema.get("nullable"):
        return []  # a nullable reference ({"allOf": [ref], "nullable": true}): its target need not be
    schema = _resolve(document, schema)
    if value is None:
        return [] if schema.get("nullable") or "oneOf" in schema or "anyOf" in schema else [f"{where}: null"]
    if "properties" in schema:
        if not isinstance(value, dict):
            return [f"{where}: not an object"]
        declared, required = set(schema["properties"]), set(schema.get("required", []))
        problems = [f"{where}.{key}: sent, not declared" for key in sorted(set(value) - declared)]
        problems += [f"{where}.{key}: declared required, not sent" for key in sorted(required - set(value))]
        for key in sorted(set(value) & declared):
            problems += drift(document, schema["properties"][key], value[key], f"{where}.{key}")
        return problems
    if schema.get("type") == "object":
        return [f"{where}: declared as a free-form object: declare its keys"]
    if schema.get("type") == "array" and isinstance(value, list):
        return [problem for item in value for problem in drift(document, schema["items"], item, f"{where}[]")]
    return []
