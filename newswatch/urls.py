"""Canonical URLs: one article per page, whatever edition, tracking parameters or redirects led to it."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters that identify a campaign or a click, never a page.
_TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid",
        "mc_cid", "mc_eid", "_ga", "_gl", "ref_src", "cmpid", "ocid", "spm",
    }
)
_TRACKING_PREFIXES = ("utm_", "at_", "pk_", "mtm_", "itm_")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Host prefixes of mobile and AMP editions that serve the same pages as the main site.
_EDITION_PREFIXES = ("www.", "m.", "mobile.", "amp.")
# Query parameters that only select the AMP rendering of a page.
_AMP_PARAMS = frozenset({"amp", "outputtype"})
# AMP caches and viewers wrapping the original URL: .../c/s/<host>/<path>, google.*/amp/s/...
_AMP_WRAPPER = re.compile(
    r"^https?://(?:[^/]+\.cdn\.ampproject\.org/[cv]|(?:www\.)?google\.[a-z.]+/amp)/(s/)?(.+)$",
    re.IGNORECASE,
)
_AMP_PATH = re.compile(r"(?:^/amp(?=/)|/amp/?$|\.amp(?=\.html?$|$))", re.IGNORECASE)


def canonical_url(url: str) -> str:
    """Normalise ``url`` so that the same page always gets the same string.

    Lower-cases scheme and host, drops default ports, fragments and tracking parameters,
    sorts the remaining query parameters and removes a trailing slash from non-root paths.
    AMP and mobile editions map to the main page: AMP cache/viewer wrappers are unwrapped,
    ``www.``, ``m.``, ``mobile.`` and ``amp.`` hosts lose the prefix, and ``/amp`` path parts,
    ``.amp.html`` suffixes and ``?amp`` / ``?outputType=amp`` parameters are dropped.
    """
    url = url.strip()
    if wrapped := _AMP_WRAPPER.match(url):
        url = ("https://" if wrapped.group(1) else "http://") + wrapped.group(2)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    for prefix in _EDITION_PREFIXES:
        if host.startswith(prefix) and "." in host[len(prefix) :]:
            host = host[len(prefix) :]
            break
    port = parts.port
    netloc = host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    path = _AMP_PATH.sub("", re.sub(r"/{2,}", "/", parts.path or "/")) or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/")
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key.lower() not in _TRACKING_PARAMS
        and not key.lower().startswith(_TRACKING_PREFIXES)
        and not (key.lower() in _AMP_PARAMS and value.lower() in ("", "1", "true", "amp"))
    ]
    return urlunsplit((scheme, netloc, path, urlencode(sorted(query)), ""))


def page_url(link: str, final_url: str | None = None, declared: str | None = None) -> str:
    """Canonical URL of a fetched page.

    The page's own ``<link rel=canonical>`` (``declared``) wins when it is on the same site
    as the page; otherwise the URL the redirects ended at (``final_url``), else ``link``. A
    canonical on another site (syndicated copy pointing at the agency) is ignored: such
    copies are grouped by story clustering, not merged into one article.
    """
    fetched = canonical_url(final_url or link)
    if declared and declared.startswith(("http://", "https://")):
        candidate = canonical_url(declared)
        if urlsplit(candidate).netloc == urlsplit(fetched).netloc:
            return candidate
    return fetched


def article_id(url: str) -> str:
    """Stable article key: a short hash of the canonical URL."""
    return hashlib.sha256(canonical_url(url).encode("utf-8")).hexdigest()[:24]
