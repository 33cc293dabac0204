"""The README is the package's page on PyPI as well as the repository's front
page: it leads with what a user needs, its links work wherever it is shown, and
its two set-up commands are the ones CI runs.  (Its Python examples run with the
docs' in test_docs.py.)"""

from __future__ import annotations

import re

import pytest

from tests.support.paths import ROOT

README = ROOT / "README.md"
REPOSITORY = "https://github.com/fastframe/fastframe/"
# [text](target), and <a href="target">
LINK = re.compile(r"\]\(([^)\s]+)\)|href=\"([^\"]+)\"")

pytestmark = pytest.mark.skipif(not README.is_file(), reason=f"no README at {README} (an installed package's tests)")


def readme() -> str:
    return README.read_text(encoding="utf-8")


def sections(text: str) -> list[str]:
    return re.findall(r"^## (.+)$", text, flags=re.MULTILINE)


def test_links_are_absolute_so_they_work_outside_the_repository() -> None:
    links = [a or b for a, b in LINK.findall(readme())]
    assert links, "the README links to the documentation"
    relative = [link for link in links if not link.startswith(("https://", "http://", "mailto:"))]
    assert relative == [], f"relative links break on PyPI: {relative}"


def test_links_into_the_repository_name_files_that_exist() -> None:
    for link in (a or b for a, b in LINK.findall(readme())):
        if not link.startswith(REPOSITORY):
            continue
        match = re.fullmatch(re.escape(REPOSITORY) + r"(?:blob|tree)/main/([^#]+)(?:#.*)?", link)
        if match is None:
            assert link.rstrip("/") + "/" == REPOSITORY or link.startswith(REPOSITORY + "issues"), link
            continue
        assert (ROOT / match.group(1)).exists(), f"{link}: no {match.group(1)} in the repository"


def test_it_leads_with_installing_and_an_example_and_ends_with_the_checkout() -> None:
    names = sections(readme())
    assert names[:2] == ["Install", "A first example"], names
    assert names[-1] == "From a checkout", names
    assert "Stability" in names
    install = readme().split("## Install", 1)[1].split("\n## ", 1)[0]
    assert re.search(r"^pip install fastframe\b", install, flags=re.MULTILINE), install
    assert "IMPLEMENTATION" in install and "py3-none-any" in install  # which core, and how to check


def test_the_test_command_is_the_one_ci_runs() -> None:
    text = readme()
    checkout = text[text.index("## From a checkout") :]
    block = re.search(r"^```sh\n(.*?)^```$", checkout, flags=re.MULTILINE | re.DOTALL)
    assert block is not None, "the checkout's commands are in a sh block"
    commands = [line for line in block.group(1).splitlines() if line and not line.startswith("#")]
    assert commands[0] == "pip install . && python -m fastframe bench", commands
    test_command = commands[1]
    assert test_command.endswith("python -m pytest"), test_command
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in ci.splitlines(), f".ci/run must run the README's test command: {test_command}"


def test_no_development_material_on_the_users_page() -> None:
    # these belong to CONTRIBUTING.md
    for word in ("nox", "valgrind", "AddressSanitizer", "hardening/", "noxfile"):
        assert word not in readme(), word
        assert word in (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8"), word
