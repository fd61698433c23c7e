"""The public share page: the artwork's placeholder colour, a preview and a size/format picker that downloads.

Rendered from the public listing only (``ShareLinkService.public_artwork``), so it can show nothing the JSON route
does not. Every interpolated value is HTML-escaped.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import quote

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title}</title>
<style>
  body {{ font-family: system-ui, sans-serif; margin: 0; background: {background}; color: #111; }}
  main {{ max-width: 40rem; margin: 2rem auto; background: #fff; padding: 1.5rem; border-radius: 12px; }}
  img {{ width: 100%; height: auto; border-radius: 8px; background: {background}; }}
  form {{ display: flex; gap: .5rem; flex-wrap: wrap; margin-top: 1rem; }}
  .swatches span {{ display: inline-block; width: 1.5rem; height: 1.5rem; border-radius: 50%; margin-right: .25rem; }}
</style>
</head>
<body>
<main>
{content}
</main>
</body>
</html>
"""


def _swatches(palette: list[str]) -> str:
    spans = "".join(f'<span title="{escape(c)}" style="background:{escape(c)}"></span>' for c in palette)
    return f'<p class="swatches" aria-label="Palette">{spans}</p>' if spans else ""


def _format_options(formats: list[str]) -> str:
    """The format picker's options: the formats every size offers; without one in common (an asset ingested before
    derived formats existed) a single "as stored" option, which downloads each size in its stored format."""
    if not formats:
        return '<option value="">As stored</option>'
    return "".join(f'<option value="{escape(f)}">{escape(f.upper())}</option>' for f in formats)


def render_share_page(token: str, listing: dict[str, Any], preview: dict[str, Any] | None) -> str:
    """The HTML page of a share link: title, artist, preview, palette and a download form.

    ``listing`` is the public listing (``release``, ``sizes``, ``formats`` every size offers, ``default_size``,
    ``dominant_color``, ``palette``): the pickers offer only what exists;
    ``preview`` is ``{"url", "width", "height"}`` of the image shown (None: no preview). The form GETs
    ``{token}/download?size=&format=`` relative to the page, so it works under any API stage prefix.
    """
    release = listing["release"]
    heading = f"{release['artist']} – {release['title']}"
    token_path = quote(token, safe="")
    sizes = listing["sizes"]
    if not sizes:
        content = f"<h1>{escape(heading)}</h1><p>The artwork is not ready yet.</p>"
    else:
        default = listing.get("default_size")
        options = "".join(
            f'<option value="{escape(s["size"])}"{" selected" if s["size"] == default else ""}>'
            f"{escape(s['size'])} — {s['width']}×{s['height']} px</option>"
            for s in sizes
        )
        formats = _format_options(listing["formats"])
        image = (
            f'<img src="{escape(preview["url"])}" alt="{escape(heading)} artwork"'
            f' width="{preview["width"]}" height="{preview["height"]}">'
            if preview
            else ""
        )
        content = (
            f"<h1>{escape(heading)}</h1>"
            f"{image}"
            f"{_swatches(listing.get('palette') or [])}"
            f'<form method="get" action="{token_path}/download">'
            f'<label>Size <select name="size">{options}</select></label>'
            f'<label>Format <select name="format">{formats}</select></label>'
            f'<button type="submit">Download</button></form>'
        )
    background = listing.get("dominant_color") or "#eeeeee"
    return _PAGE.format(title=escape(heading), background=escape(background), content=content)


def render_not_found_page() -> str:
    """The page for an unknown, expired or revoked link (same for all three)."""
    return _PAGE.format(
        title="Link not found", background="#eeeeee", content="<h1>This link does not exist or has expired.</h1>"
    )
