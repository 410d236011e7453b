"""The Demo Shop's static files, read once and served from memory, and a switch that takes an image away.

    GET  /static/{name}                  shop.css, shop.js, cart.js, partner.js, img/hero.svg, img/product-1.svg ...
    GET  /demo/images                    {"images": [every image name], "removed": [the names taken away]}
    POST /demo/images/{name}/remove      /static/img/{name} answers 404 from now on; answers {"removed": [...]}
    POST /demo/images/{name}/restore     /static/img/{name} is served again; answers {"removed": [...]}

Removing an image leaves the pages as they are: they still ask for it, so a page check sees a first-party image
fail with HTTP 404 and names it (try `curl -X POST http://127.0.0.1:8080/demo/images/hero.svg/remove`). An
unknown name is a 404 from the switch too. Files are sent with `Cache-Control: no-cache`, so a person's browser
sees a removal on its next load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.resources import files
from importlib.resources.abc import Traversable

from aiohttp import web

IMAGE_FOLDER = "img"
CONTENT_TYPES = {
    ".css": "text/css",
    ".js": "text/javascript",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    content_type: str


@dataclass
class StaticFiles:
    """Every file under `static/` by its name there (`img/hero.svg`), and the images currently taken away."""

    by_name: dict[str, StaticFile]
    removed: set[str] = field(default_factory=set)

    @property
    def images(self) -> list[str]:
        prefix = f"{IMAGE_FOLDER}/"
        return sorted(name.removeprefix(prefix) for name in self.by_name if name.startswith(prefix))

    def served(self, name: str) -> StaticFile | None:
        """The file at `name`, or None when there is none or it is an image taken away."""
        image = name.removeprefix(f"{IMAGE_FOLDER}/")
        return None if image != name and image in self.removed else self.by_name.get(name)


STATIC_FILES = web.AppKey("static_files", StaticFiles)


def _walk(folder: Traversable, prefix: str = "") -> dict[str, StaticFile]:
    found: dict[str, StaticFile] = {}
    for entry in folder.iterdir():
        if entry.is_dir():
            found.update(_walk(entry, f"{prefix}{entry.name}/"))
            continue
        suffix = entry.name[entry.name.rfind("."):] if "." in entry.name else ""
        if suffix in CONTENT_TYPES:  # an editor's swap file or a README is not served
            found[prefix + entry.name] = StaticFile(entry.read_bytes(), CONTENT_TYPES[suffix])
    return found


def read_static_files() -> StaticFiles:
    """Every servable file of the package's `static/` folder, read now (once per app)."""
    return StaticFiles(_walk(files("prober.demo").joinpath("static")))


async def static_file(request: web.Request) -> web.Response:
    found = request.app[STATIC_FILES].served(request.match_info["name"])
    if found is None:
        return web.Response(status=404, text="not found\n")
    return web.Response(body=found.body, content_type=found.content_type, headers={"Cache-Control": "no-cache"})


def _image_name(request: web.Request) -> str:
    name = request.match_info["image"]
    if name not in request.app[STATIC_FILES].images:
        raise web.HTTPNotFound(text=f"no image {name!r}\n")
    return name


async def list_images(request: web.Request) -> web.Response:
    store = request.app[STATIC_FILES]
    return web.json_response({"images": store.images, "removed": sorted(store.removed)})


async def remove_image(request: web.Request) -> web.Response:
    store = request.app[STATIC_FILES]
    store.removed.add(_image_name(request))
    return web.json_response({"removed": sorted(store.removed)})


async def restore_image(request: web.Request) -> web.Response:
    store = request.app[STATIC_FILES]
    store.removed.discard(_image_name(request))
    return web.json_response({"removed": sorted(store.removed)})


def add_static_routes(app: web.Application) -> None:
    """Read the static files into `app` and add the routes above."""
    app[STATIC_FILES] = read_static_files()
    app.router.add_get("/static/{name:[a-z0-9_/.-]{1,100}}", static_file)
    app.router.add_get("/demo/images", list_images)
    app.router.add_post("/demo/images/{image}/remove", remove_image)
    app.router.add_post("/demo/images/{image}/restore", restore_image)
