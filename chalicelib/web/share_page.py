"""The public share pages: a release's artwork (its placeholder colour, a preview and a size/format picker that
downloads) and an asset's or a collection's media (each shown asset with its preview and its own picker).

Rendered from the public listings only (``ShareLinkService.public_artwork``, ``MediaShareLinkService.listing``) and
their previews, so they show nothing the JSON routes do not. Every interpolated value is HTML-escaped.
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
  img, video {{ width: 100%; height: auto; border-radius: 8px; background: {background}; }}
  section.item {{ margin-top: 1.5rem; }}
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


def _media_item(token_path: str, item: dict[str, Any], preview: dict[str, Any] | None) -> str:
    """One shown asset: its title, preview (a video plays, with its poster) and a download form naming the asset."""
    title = item.get("title") or ("Video" if item["type"] == "video" else "Image")
    if preview and preview.get("video_url"):
        poster = f' poster="{escape(preview["url"])}"' if preview.get("url") else ""
        media = f'<video controls preload="metadata" src="{escape(preview["video_url"])}"{poster}></video>'
    elif preview and preview.get("url"):
        media = (
            f'<img src="{escape(preview["url"])}" alt="{escape(title)}"'
            f' width="{preview["width"]}" height="{preview["height"]}">'
        )
    else:
        media = ""
    sizes = item["sizes"]
    if not sizes:
        return f'<section class="item"><h2>{escape(title)}</h2><p>Not ready yet.</p></section>'
    default = item.get("default_size")
    options = "".join(
        f'<option value="{escape(s["size"])}"{" selected" if s["size"] == default else ""}>'
        f"{escape(s['size'])} — {s['width']}×{s['height']} px</option>"
        for s in sizes
    )
    if item["type"] == "video":
        formats = f'<option value="">{escape(sizes[0]["stored_format"].upper())}</option>'
    else:
        formats = _format_options(item["formats"])
    return (
        f'<section class="item" data-asset="{escape(item["id"])}"><h2>{escape(title)}</h2>{media}'
        f"{_swatches(item.get('palette') or [])}"
        f'<form method="get" action="{token_path}/download">'
        f'<input type="hidden" name="asset" value="{escape(item["id"])}">'
        f'<label>Size <select name="size">{options}</select></label>'
        f'<label>Format <select name="format">{formats}</select></label>'
        f'<button type="submit">Download</button></form></section>'
    )


def render_media_page(token: str, listing: dict[str, Any], previews: dict[str, dict[str, Any]]) -> str:
    """The HTML page of an asset or collection link: each shown asset with its preview and its own download form.

    ``listing`` is the public listing (``SharedMedia``: ``target``, ``items``); ``previews`` the preview of each
    ready item by asset id (``{"url", "width", "height"}``, plus ``video_url`` for a video). Each form GETs
    ``{token}/download?asset=&size=&format=`` relative to the page, so it works under any API stage prefix.
    """
    items = listing["items"]
    token_path = quote(token, safe="")
    single = listing["target"] == "asset" and items
    heading = (items[0].get("title") or "Shared media") if single else "Shared collection"
    body = "".join(_media_item(token_path, item, previews.get(item["id"])) for item in items)
    if not items:
        body = "<p>Nothing is shared here yet.</p>"
    background = (items[0].get("dominant_color") if len(items) == 1 else None) or "#eeeeee"
    return _PAGE.format(
        title=escape(heading), background=escape(background), content=f"<h1>{escape(heading)}</h1>{body}"
    )


def render_not_found_page() -> str:
    """The page for an unknown, expired or revoked link (same for all three)."""
    return _PAGE.format(
        title="Link not found", background="#eeeeee", content="<h1>This link does not exist or has expired.</h1>"
    )
