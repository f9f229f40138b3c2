"""The pages' message catalogs (outage_notify/web/locale): the template is up to date with the
code and templates, every message has a Finnish and a Swedish translation, and every catalog
compiles with placeholders that match."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from outage_notify.web import i18n

ROOT = Path(__file__).resolve().parents[2]
POT = i18n.LOCALE_DIR / "messages.pot"


def read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as po:
        return read_po(po, locale=locale)


def ids(catalog: Catalog) -> set[str]:
    return {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}


def _sources_only(path: str) -> bool:
    """Walk only the package and the templates (babel.cfg's patterns), not node_modules."""
    top = Path(path).relative_to(ROOT).parts[0]
    return top in ("outage_notify", "templates") and "__pycache__" not in path


def test_the_template_holds_every_message_of_the_pages() -> None:
    """A string marked but not extracted would show in English on every page: run
    `pybabel extract` and `pybabel update` (README) and translate the new messages."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    messages = extract_from_dir(str(ROOT), method_map, options_map, directory_filter=_sources_only)
    found = {
        message if isinstance(message, str) else message[0] for _, _, message, _, _ in messages
    }
    assert found == ids(read(POT))


@pytest.mark.parametrize("lang", ["fi", "sv"])
def test_every_message_is_translated(lang: str) -> None:
    catalog = read(i18n.catalog_path(lang), lang)
    assert ids(catalog) == ids(read(POT))
    untranslated = [
        m.id
        for m in catalog
        if m.id
        and (
            m.fuzzy
            or not (m.string if isinstance(m.string, str) else all(m.string))
            or (isinstance(m.string, tuple) and len(m.string) != catalog.num_plurals)
        )
    ]
    assert untranslated == []


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_each_catalog_compiles_with_matching_placeholders(lang: str) -> None:
    catalog = read(i18n.catalog_path(lang), lang)
    problems = [(m.id, [str(e) for e in errors]) for m, errors in catalog.check() if errors]
    assert problems == []
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    assert isinstance(Translations(compiled), Translations)
    assert (
        i18n.translations(lang).gettext("Power outages")
        == {
            "fi": "Sähkökatkot",
            "sv": "Strömavbrott",
            "en": "Power outages",
        }[lang]
    )
