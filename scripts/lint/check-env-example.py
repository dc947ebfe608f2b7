#!/usr/bin/env python3
"""Checks that .env.example lists exactly the environment variables the services read.

Fails (exit 1, naming each variable) when a variable read by the code is missing from
.env.example, or when .env.example lists a variable no code reads. Python 3 standard library
only; run from anywhere: `python3 scripts/lint/check-env-example.py`.

Where names come from (the service crates' src/, i.e. common, engine, analytics,
notification and gateway):

  literal reads
    config::string("NAME", ..), config::optional("NAME"), config::parse("NAME", ..),
    config::required_in_production(env, "NAME", ..) -- with any path prefix, and bare inside
    common/src/config.rs (where Environment::from_env reads APP_ENV) -- and
    std::env::var("NAME") / std::env::var_os("NAME").

  names derived by rule (the code builds them, so the script applies the same rule)
    read_pem("NAME") and keys::shared_secret(env, "NAME")  -> NAME and NAME_FILE
        (common/src/keys.rs: the secret itself or a path to a file holding it)
    BackendConfig::from_env(env, "X_GRPC_ADDR", ..)        -> X_GRPC_ADDR and X_ADMIN_ADDR
        (common/src/service.rs: addr_var.replace("_GRPC_ADDR", "_ADMIN_ADDR"))
    limit("CLASS", ..) in gateway/src/config.rs            -> RATE_LIMIT_CLASS_PER_MIN and
                                                              RATE_LIMIT_CLASS_BURST
    networks("NAME", ..) in gateway/src/config.rs          -> NAME
    EnvFilter::try_from_default_env / from_default_env     -> RUST_LOG (tracing-subscriber)

  not counted (not read by a running service)
    e2e/ (tests: MAIL_SINK_API, ...), src/bin/ (analytics' evaluation tools: EVAL_VERBOSE),
    build.rs (OUT_DIR is set by cargo), and the standard OTEL_* variables that the
    OpenTelemetry exporter reads itself (only OTEL_EXPORTER_OTLP_ENDPOINT, which the code
    reads to decide whether to export, is listed).

A variable name the script cannot resolve -- one of those readers called with something
other than a string literal, outside the helpers above -- is an error too, so a new dynamic
name cannot slip past unnoticed: teach the script its rule (KNOWN_DYNAMIC below).

.env.example format: one `NAME=value` line per variable (value = the default, empty when
there is none; an empty value means "unset" to every reader), comments on their own lines.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENV_EXAMPLE = ROOT / ".env.example"
CRATES = ["common", "engine", "analytics", "notification", "gateway"]

NAME = r"[A-Z][A-Z0-9_]*"
# The readers of common/src/config.rs (required_in_production takes the Environment first).
CALL = r"(?:(?:string|optional|parse)\(|required_in_production\(\s*\w+\s*,)"
# Called as `config::reader(` (any path before `config::`) everywhere; bare only inside
# common/src/config.rs itself, since elsewhere a bare parse("..") is something else
# (Currency::parse, str::parse...).
PREFIXED = rf"config::{CALL}"
BARE = rf"(?<![\w.:]){CALL}"
BARE_READERS_IN = "common/src/config.rs"
STD_ENV = r"\benv::var(?:_os)?\("


def literal(reader: str) -> re.Pattern[str]:
    return re.compile(rf'(?:{reader})\s*"({NAME})"')


def dynamic(reader: str) -> re.Pattern[str]:
    """A reader called with something other than a string literal (the expression is group 1)."""
    return re.compile(rf"(?:{reader})\s*(&?[a-z_][\w.]*(?:\([^)]*\))?)")


# Helpers that derive further names from a literal.
WITH_FILE = re.compile(rf'(?<![\w.])(?:read_pem|shared_secret)\(\s*(?:\w+\s*,\s*)?"({NAME})"')
BACKEND_ADDR = re.compile(rf'BackendConfig::from_env\(\s*\w+\s*,\s*"({NAME})_GRPC_ADDR"')
GATEWAY_LIMIT = re.compile(rf'(?<![\w.])limit\(\s*"({NAME})"')
GATEWAY_NETWORKS = re.compile(rf'(?<![\w.])networks\(\s*"({NAME})"')
ENV_FILTER = re.compile(r"EnvFilter::(?:try_)?from_default_env\(")

# Non-literal names that the rules above account for, by file.
KNOWN_DYNAMIC = {
    # The readers themselves, passing their `name` on.
    ("common/src/config.rs", "name"),
    # read_pem: NAME, then format!("{name}_FILE")  (WITH_FILE rule).
    ("common/src/keys.rs", "name"),
    ("common/src/keys.rs", "&file_var"),
    # BackendConfig::from_env: <X>_GRPC_ADDR and its _ADMIN_ADDR twin  (BACKEND_ADDR rule).
    ("common/src/service.rs", "addr_var"),
    ('common/src/service.rs', '&addr_var.replace("_GRPC_ADDR", "_ADMIN_ADDR")'),
    # gateway limit(): RATE_LIMIT_<class>_PER_MIN / _BURST  (GATEWAY_LIMIT rule).
    ("gateway/src/config.rs", "&rate_name"),
    ("gateway/src/config.rs", "&burst_name"),
    # gateway networks(): a comma-separated list read through config::string  (GATEWAY_NETWORKS).
    ("gateway/src/config.rs", "name"),
}


def strip_comments(text: str) -> str:
    """Drops // comments (doc comments name variables in prose) but keeps string literals."""
    out = []
    for line in text.splitlines():
        in_str = False
        i = 0
        while i < len(line):
            c = line[i]
            if c == "\\" and in_str:
                i += 2
                continue
            if c == '"':
                in_str = not in_str
            elif not in_str and line.startswith("//", i):
                line = line[:i]
                break
            i += 1
        out.append(line)
    return "\n".join(out)


def sources() -> list[Path]:
    files = []
    for crate in CRATES:
        for path in sorted((ROOT / crate / "src").rglob("*.rs")):
            if "bin" in path.relative_to(ROOT / crate / "src").parts[:-1]:
                continue  # evaluation tools, not services
            files.append(path)
    return files


def names_in_code() -> tuple[dict[str, set[str]], list[str]]:
    """Every variable name read, with the files reading it, and the unresolved reads."""
    found: dict[str, set[str]] = {}
    unresolved: list[str] = []

    def add(name: str, where: str) -> None:
        found.setdefault(name, set()).add(where)

    for path in sources():
        rel = path.relative_to(ROOT).as_posix()
        text = strip_comments(path.read_text(encoding="utf-8"))
        readers = f"{PREFIXED}|{STD_ENV}" + (f"|{BARE}" if rel == BARE_READERS_IN else "")
        for m in literal(readers).finditer(text):
            add(m.group(1), rel)
        for m in WITH_FILE.finditer(text):
            add(m.group(1), rel)
            add(m.group(1) + "_FILE", rel)
        for m in BACKEND_ADDR.finditer(text):
            add(m.group(1) + "_GRPC_ADDR", rel)
            add(m.group(1) + "_ADMIN_ADDR", rel)
        if rel == "gateway/src/config.rs":
            for m in GATEWAY_LIMIT.finditer(text):
                add(f"RATE_LIMIT_{m.group(1)}_PER_MIN", rel)
                add(f"RATE_LIMIT_{m.group(1)}_BURST", rel)
            for m in GATEWAY_NETWORKS.finditer(text):
                add(m.group(1), rel)
        if ENV_FILTER.search(text):
            add("RUST_LOG", rel)
        for m in dynamic(readers).finditer(text):
            expr = m.group(1)
            if (rel, expr) not in KNOWN_DYNAMIC:
                line = text.count("\n", 0, m.start()) + 1
                unresolved.append(f"{rel}:{line}: variable name from `{expr}`")
    return found, unresolved


def names_in_example() -> tuple[list[str], list[str]]:
    """The names .env.example assigns, in order, and any it assigns twice."""
    assign = re.compile(rf"^({NAME})=")
    seen: list[str] = []
    duplicates: list[str] = []
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        m = assign.match(line)
        if m:
            (duplicates if m.group(1) in seen else seen).append(m.group(1))
    return seen, duplicates


def main() -> int:
    if not ENV_EXAMPLE.is_file():
        print(f"error: {ENV_EXAMPLE.relative_to(ROOT)} does not exist", file=sys.stderr)
        return 1
    code, unresolved = names_in_code()
    listed, duplicates = names_in_example()
    missing = sorted(set(code) - set(listed))
    unknown = sorted(set(listed) - set(code))
    ok = True
    if missing:
        ok = False
        print("read by the code but missing from .env.example:", file=sys.stderr)
        for name in missing:
            print(f"  {name}  ({', '.join(sorted(code[name]))})", file=sys.stderr)
    if unknown:
        ok = False
        print("listed in .env.example but read by no service:", file=sys.stderr)
        for name in unknown:
            print(f"  {name}", file=sys.stderr)
    if duplicates:
        ok = False
        print("listed more than once in .env.example:", file=sys.stderr)
        for name in sorted(set(duplicates)):
            print(f"  {name}", file=sys.stderr)
    if unresolved:
        ok = False
        print("variable names the script cannot resolve (add a rule to KNOWN_DYNAMIC):", file=sys.stderr)
        for entry in unresolved:
            print(f"  {entry}", file=sys.stderr)
    if not ok:
        return 1
    print(f"ok: .env.example lists all {len(code)} variables the services read, and no others")
    return 0


if __name__ == "__main__":
    sys.exit(main())
