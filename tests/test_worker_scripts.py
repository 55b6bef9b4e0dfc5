"""The service worker is three classic scripts joined into one /sw.js, sharing
top-level names. Each script says in its header which names it takes from
the others (`/* global ... */`) and which it gives them (`/* exported ... */`);
these tests hold the headers to the code, so that a name defined twice, used
but defined nowhere, or shared without saying so fails here rather than in a
worker that will not install."""

import re
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from server import assets
from server.bundle import PWA_DIR, SERVICE_WORKER_DIR

# Defined by the server in the generated header of /sw.js.
SERVER_NAMES = frozenset({"PRECACHE"})
TOP_LEVEL = re.compile(
    r"^(?:const|let|var|class|function|async function)\s+([A-Za-z_$][\w$]*)", re.M
)
# Comments and quoted strings, taken from the left so that neither hides in the other.
COMMENT_OR_STRING = re.compile(
    r"(/\*.*?\*/|//[^\n]*)|'(?:\\.|[^'\\\n])*'|\"(?:\\.|[^\"\\\n])*\"", re.S
)
IDENTIFIER = re.compile(r"(?<![\w$.])[A-Za-z_$][\w$]*")


def header_list(text: str, directive: str) -> list[str]:
    names: list[str] = []
    for body in re.findall(rf"/\*\s*{directive}\s+(.*?)\*/", text, re.S):
        names += [name.strip() for name in body.split(",") if name.strip()]
    return names


def defined(text: str) -> list[str]:
    return TOP_LEVEL.findall(text)


def used(text: str) -> set[str]:
    """Identifiers in the code, not in comments, strings or after a dot.
    Template literals are left in: their text is never a top-level name here."""
    code = COMMENT_OR_STRING.sub(lambda match: " " if match[1] else "''", text)
    return set(IDENTIFIER.findall(code))


def problems(
    scripts: Mapping[str, str], for_pages: Mapping[str, frozenset[str]] | None = None
) -> list[str]:
    """What is wrong with how these scripts share their top-level names.
    `for_pages`: names a script also gives the pages as a module."""
    found: list[str] = []
    owners: dict[str, list[str]] = {name: ["the server"] for name in SERVER_NAMES}
    for script, text in scripts.items():
        for name in defined(text):
            owners.setdefault(name, []).append(script)
    for name, where in sorted(owners.items()):
        if len(where) > 1:
            found.append(f"{name} is defined in {', '.join(where)}")
    for script, text in scripts.items():
        own = set(defined(text))
        listed = header_list(text, "global")
        if len(listed) != len(set(listed)):
            found.append(f"{script} lists a global twice")
        for name in sorted(set(listed)):
            if name not in owners:
                found.append(f"{script} uses {name}, defined nowhere")
            elif name in own:
                found.append(f"{script} lists {name} as a global but defines it")
        taken = {name for name in used(text) if name in owners and name not in own}
        for name in sorted(taken - set(listed)):
            found.append(f"{script} uses {name} without listing it in /* global */")
        for name in sorted((set(listed) & set(owners)) - taken):
            found.append(f"{script} lists {name} in /* global */ without using it")
        exported = header_list(text, "exported")
        given = {
            name
            for other, other_text in scripts.items()
            if other != script
            for name in header_list(other_text, "global")
            if name in own
        } | set((for_pages or {}).get(script, frozenset()))
        for name in sorted(given - set(exported)):
            found.append(f"{script} gives {name} without listing it in /* exported */")
        for name in sorted(set(exported) - given):
            found.append(f"{script} lists {name} in /* exported */ but nothing takes it")
        for name in sorted(set(exported) - own):
            found.append(f"{script} exports {name} without defining it")
    return found


def worker_scripts() -> dict[str, str]:
    return {
        name: (SERVICE_WORKER_DIR / name).read_text(encoding="utf-8")
        for name in assets.WORKER_SCRIPTS
    }


def test_the_worker_is_these_three_scripts() -> None:
    assert sorted(path.name for path in SERVICE_WORKER_DIR.glob("*.js")) == sorted(
        assets.WORKER_SCRIPTS
    )


def test_the_worker_scripts_share_only_what_their_headers_say() -> None:
    assert problems(worker_scripts(), {"outbox.js": frozenset(assets.OUTBOX_EXPORTS)}) == []


def test_a_name_defined_twice_used_unlisted_or_defined_nowhere_is_found() -> None:
    scripts = {
        "a.js": "/* exported helper, spare */\nconst SYNC_TAG = 'x'\nfunction helper () {}\n"
        "function spare () {}\n",
        "b.js": "/* global helper, missing, unused */\nconst SYNC_TAG = 'y'\n"
        "helper()\nmissing()\nloose()\n// unused, only in a comment\n",
        "c.js": "function loose () {}\nfunction unused () {}\nconst s = 'SYNC_TAG'\n",
    }
    assert problems(scripts) == [
        "SYNC_TAG is defined in a.js, b.js",
        "a.js lists spare in /* exported */ but nothing takes it",
        "b.js uses missing, defined nowhere",
        "b.js uses loose without listing it in /* global */",
        "b.js lists unused in /* global */ without using it",
        "c.js gives unused without listing it in /* exported */",
    ]


def test_the_assembled_worker_defines_each_name_once() -> None:
    body = assets.service_worker({"version": "x", "shared": [], "languages": {}}).body
    assert re.findall(r"^const PRECACHE = ", body.decode("utf-8"), re.M) == ["const PRECACHE = "]
    # The scripts as joined, before the served copy loses the indentation
    # that tells a top-level name from a function's own.
    counts = Counter(["PRECACHE", *defined(assets.worker_source().decode("utf-8"))])
    assert counts["PRECACHE"] == 1 and counts["Outbox"] == 1
    assert [name for name, count in counts.items() if count > 1] == []


def test_the_outbox_stands_alone_for_the_pages() -> None:
    # Served by itself as /static/outbox.js: it may take nothing from the others.
    outbox = worker_scripts()["outbox.js"]
    assert header_list(outbox, "global") == []
    assert set(assets.OUTBOX_EXPORTS) <= set(defined(outbox))


def test_the_outbox_constants_are_written_out_nowhere_else() -> None:
    outbox = worker_scripts()["outbox.js"]
    literals = {"app-outbox-flush", "forget-receipts"}
    for name in ("OUTBOX_DB", "SYNC_TAG"):
        match = re.search(rf"^const {name} = '([^']+)'$", outbox, re.M)
        assert match, f"the outbox defines {name}"
        literals.add(match[1])
    for root in (PWA_DIR, SERVICE_WORKER_DIR, Path(assets.__file__).parent):
        for path in sorted(root.rglob("*")):
            if (
                path.suffix not in {".js", ".py", ".html"}
                or path == SERVICE_WORKER_DIR / "outbox.js"
            ):
                continue
            content = path.read_text(encoding="utf-8")
            for literal in literals:
                for quote in ("'", '"', "`"):
                    assert f"{quote}{literal}{quote}" not in content, (path, literal)


def test_the_pages_get_the_outbox_and_its_constants(client) -> None:  # type: ignore[no-untyped-def]
    served = client.get("/static/outbox.js").text
    assert served.rstrip().endswith(
        "export { Outbox, OUTBOX_DB, OUTBOX_CHANNEL, SYNC_TAG, FLUSH_LOCK }"
    )


def test_the_pages_type_checker_knows_the_outbox_module_as_served() -> None:
    # pwa/outbox.d.ts stands for /static/outbox.js: the same names, or the
    # checker would pass an import that the browser refuses.
    declared = (PWA_DIR / "outbox.d.ts").read_text(encoding="utf-8")
    block = re.search(r"^export \{(.*?)\}", declared, re.M | re.S)
    assert block, "pwa/outbox.d.ts exports the module's names"
    names = [item.split(" as ")[-1].strip() for item in block[1].split(",") if item.strip()]
    assert names == list(assets.OUTBOX_EXPORTS)
