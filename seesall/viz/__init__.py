"""Pictures people can look at: overlays, palettes, flow colours, grids and clip strips."""

from seesall.viz.draw import draw_objects, draw_tracks
from seesall.viz.flow import flow_to_color
from seesall.viz.layout import clip_strip, grid, save_png, titled
from seesall.viz.palette import colorize_semantic, legend, palette

__all__ = [
    "clip_strip",
    "colorize_semantic",
    "draw_objects",
    "draw_tracks",
    "flow_to_color",
    "grid",
    "legend",
    "palette",
    "save_png",
    "titled",
]
