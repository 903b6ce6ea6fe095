"""Review themes: a small, curated FR/EN lexicon, deterministic and free (both analyzers use it).

A theme is found when the review contains one of its terms as a word (or word prefix for the stems ending in
"*"), case and accents ignored. The same themes are listed in dbt/macros/nlp.sql (review_themes); a test checks it.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

THEMES: tuple[str, ...] = ("food", "service", "price", "ambience", "wait", "cleanliness")
THEME_LANGUAGES = frozenset({"en", "fr"})

# Terms without accents, lowercase; "*" = any word continuing the stem.
LEXICON: dict[str, dict[str, tuple[str, ...]]] = {
    "food": {
        "en": (
            "food",
            "meal*",
            "dish*",
            "taste*",
            "tasty",
            "delicious",
            "flavo*",
            "bland",
            "dessert*",
            "starter*",
            "main course",
            "menu",
            "home-made",
            "homemade",
            "cook*",
            "cuisine",
            "pizza*",
            "burger*",
            "wine*",
        ),
        "fr": (
            "cuisine",
            "plat*",
            "repas",
            "gout*",
            "savoureu*",
            "delicieu*",
            "fade",
            "dessert*",
            "entree*",
            "menu",
            "fait maison",
            "cuisson",
            "pizza*",
            "burger*",
            "vin*",
            "nourriture",
        ),
    },
    "service": {
        "en": (
            "service",
            "staff",
            "waiter*",
            "waitress*",
            "server*",
            "welcome",
            "friendly",
            "unfriendly",
            "rude",
            "attentive",
            "order*",
        ),
        "fr": (
            "service",
            "serveu*",
            "personnel",
            "equipe",
            "accueil*",
            "aimable",
            "sympathique",
            "impoli*",
            "commande*",
        ),
    },
    "price": {
        "en": ("price*", "expensive", "cheap*", "value", "overpriced", "affordable", "bill", "cost*"),
        "fr": ("prix", "cher*", "tarif*", "addition", "rapport qualite", "abordable", "bon marche"),
    },
    "ambience": {
        "en": (
            "setting",
            "atmosphere",
            "ambience",
            "ambiance",
            "decor*",
            "noisy",
            "noise",
            "cosy",
            "cozy",
            "music",
            "terrace",
            "view",
        ),
        "fr": ("cadre", "ambiance", "atmosphere", "deco*", "bruyant*", "bruit", "cosy", "musique", "terrasse", "vue"),
    },
    "wait": {
        "en": ("wait", "waits", "waited", "waiting", "slow*", "quick*", "fast", "endless", "queue*", "delay*"),
        "fr": ("attente", "attendre", "attendu", "lent*", "rapide*", "interminable*", "delai*"),
    },
    "cleanliness": {
        "en": ("clean*", "dirty", "hygiene", "filthy", "toilet*"),
        "fr": ("propre*", "sale*", "hygiene", "crasseu*", "toilettes"),
    },
}


def normalise(text: str) -> str:
    """Lowercase without accents (é -> e), so 'Délicieux' matches 'delicieu*'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def base_language(code: str | None) -> str:
    """'en-US' -> 'en'; '' or None -> ''."""
    return (code or "").strip().split("-")[0].split("_")[0].lower()


@cache
def _patterns(language: str) -> tuple[tuple[str, re.Pattern[str]], ...]:
    compiled = []
    for theme in THEMES:
        for term in LEXICON[theme].get(language, ()):
            stem = term.rstrip("*")
            tail = r"\w*" if term.endswith("*") else ""
            compiled.append((theme, re.compile(rf"(?<!\w)({re.escape(stem)}{tail})(?!\w)")))
    return tuple(compiled)


def find_terms(text: str | None, language: str | None) -> list[tuple[str, str]]:
    """(theme, matched term) pairs in reading order; nothing for an empty text or a language outside FR/EN."""
    lang = base_language(language)
    if not text or lang not in THEME_LANGUAGES:
        return []
    plain = normalise(text)
    found: list[tuple[int, str, str]] = []
    for theme, pattern in _patterns(lang):
        for match in pattern.finditer(plain):
            found.append((match.start(), theme, match.group(1)))
    return [(theme, term) for _, theme, term in sorted(found)]


def extract_themes(texts: list[tuple[str | None, str | None]]) -> list[str]:
    """The themes found in any of the (text, language) pairs, in THEMES order."""
    hits = {theme for text, language in texts for theme, _ in find_terms(text, language)}
    return [theme for theme in THEMES if theme in hits]
