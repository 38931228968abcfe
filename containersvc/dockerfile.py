"""What a Dockerfile makes the engine fetch: base images (FROM, COPY --from) and ADD's URLs.

Read as the classic builder reads it: comments, line continuations, the escape directive, stage names, and
variables from ARG defaults and ENV (the API passes no build args, so a variable has no other value).
"""

import json
import re
import shlex
from dataclasses import dataclass

_DIRECTIVE = re.compile(r"#\s*escape\s*=\s*([\\`])\s*$", re.IGNORECASE)
_VARIABLE = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<op>[-+])(?P<word>[^}]*))?\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


@dataclass(frozen=True, slots=True)
class Fetches:
    images: tuple[str, ...]  # references the engine pulls when it lacks them
    urls: tuple[str, ...]  # what ADD downloads


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    lines = text.splitlines()
    escape = "\\"
    for line in lines:  # parser directives come first, before any other line
        match = _DIRECTIVE.match(line.strip())
        if not match:
            break
        escape = match[1]
    instructions, current = [], ""
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("#") or (not stripped and current):
            continue
        if stripped.endswith(escape):
            current += stripped[:-1] + " "
            continue
        current += stripped
        if current.strip():
            keyword, _, arguments = current.strip().partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
        current = ""
    if current.strip():
        keyword, _, arguments = current.strip().partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def _expand(value: str, variables: dict[str, str]) -> str:
    def replace(match: re.Match) -> str:
        name = match["braced"] or match["bare"]
        current = variables.get(name, "")
        if match["op"] == "-":
            return current or match["word"]
        if match["op"] == "+":
            return match["word"] if current else ""
        return current

    return _VARIABLE.sub(replace, value)


def _assignments(arguments: str, *, legacy_space_form: bool) -> dict[str, str]:
    """ARG NAME[=value] / ENV NAME=value ... (or the legacy ENV NAME value)."""
    try:
        words = shlex.split(arguments)
    except ValueError:
        words = arguments.split()
    if legacy_space_form and words and "=" not in words[0]:
        return {words[0]: " ".join(words[1:])}
    found = {}
    for word in words:
        name, has_value, value = word.partition("=")
        found[name] = value if has_value else ""
    return found


def _sources(arguments: str) -> list[str]:
    """ADD's sources (every word but the destination and the flags), shell or JSON form."""
    if arguments.startswith("["):
        try:
            words = [str(word) for word in json.loads(arguments)]
        except ValueError:
            words = arguments.split()
    else:
        words = arguments.split()
    words = [word for word in words if not word.startswith("--")]
    return words[:-1]


def dockerfile_fetches(text: str) -> Fetches:
    images: list[str] = []
    urls: list[str] = []
    global_args: dict[str, str] = {}
    stage_vars: dict[str, str] | None = None  # None: before the first FROM
    stages: set[str] = {"scratch"}
    stage_count = 0
    for keyword, arguments in _instructions(text):
        if keyword == "FROM":
            words = [word for word in arguments.split() if not word.startswith("--")]
            image = _expand(words[0], global_args) if words else ""
            if image and image.lower() not in stages:
                images.append(image)
            if len(words) >= 3 and words[1].upper() == "AS":
                stages.add(words[2].lower())
            stages.add(str(stage_count))
            stage_count += 1
            stage_vars = {}
        elif keyword == "ARG":
            for name, value in _assignments(arguments, legacy_space_form=False).items():
                if stage_vars is None:
                    global_args[name] = value
                else:  # a stage re-declares a global ARG to use its default
                    stage_vars[name] = _expand(value, stage_vars) if value else global_args.get(name, "")
        elif keyword == "ENV" and stage_vars is not None:
            for name, value in _assignments(arguments, legacy_space_form=True).items():
                stage_vars[name] = _expand(value, stage_vars)
        elif keyword == "COPY" and stage_vars is not None:
            for word in arguments.split():
                if word.startswith("--from="):
                    source = _expand(word.removeprefix("--from="), stage_vars)
                    if source.lower() not in stages:
                        images.append(source)
        elif keyword == "ADD" and stage_vars is not None:
            for source in _sources(arguments):
                source = _expand(source, stage_vars)
                if "://" in source:
                    urls.append(source)
    return Fetches(images=tuple(images), urls=tuple(urls))
