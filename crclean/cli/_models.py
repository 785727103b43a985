"""``crclean models``: every model crclean offers, grouped by what it does."""

import click

from crclean.exceptions import ModelError
from crclean import weights
from crclean.weights import AUTO_MODEL, registry, weights_path

__all__ = ["models_command"]

#: Group headings, by `crclean.weights.TASKS`.
_HEADINGS = {
    "mask": "Cosmic-ray masks: crclean mask --model NAME",
    "inpaint": "Inpainting: crclean mask --inpaint learned (the other methods, median, grow and harmonic, "
               "need no model)",
    "lens": "Strong-lens finders: crclean lenses --model NAME",
}

# For an entry without figures of its own (LA Cosmic's).
_UNMEASURED = "no figures in its entry; docs/benchmarks.md compares it with the other models"

_UNITS = {"adu": "ADU", "electron": "electrons"}


def _line(label, text):
    click.echo(f"  {label + ':':<10}{text}")


def _input(spec):
    """What the model reads: units, or bands and pixel scale for a lens finder."""
    if spec.task == "lens":
        bands = f"bands {', '.join(spec.bands)}, one file each" if spec.bands else "one image, any band"
        return (f"{bands}; any units (sky subtracted, divided by its noise); resampled to {spec.pixel_scale} "
                f"arcsec/pixel, {spec.tile_size} px windows")
    units = _UNITS.get(spec.units, spec.units)
    if spec.kind != "network":
        return f"{units} (converted with the gain; needs the read noise)"
    if spec.normalisation == "background":
        return "any units (normalised by the local sky noise)"
    return f"{units} (converted with the header's BUNIT and gain)"


def _auto_lines():
    click.echo(f"{AUTO_MODEL}  (default)")
    _line("for", "any data: chooses per file from TELESCOP/INSTRUME/DETECTOR/OBSERVAT, with a note")
    # The full list is crclean.io._instrument's; importing it here would load astropy.
    _line("space", f"{weights.AUTO_MODELS['space']}  (HST, JWST, Euclid and the other space telescopes in docs/usage.md)")
    _line("ground", f"{weights.AUTO_MODELS['ground']}  (any other telescope, or none named)")


def _role(spec):
    """Which default a model is, if any."""
    if spec.task == "mask":
        chosen = [kind for kind, name in weights.AUTO_MODELS.items() if name == spec.name]
        return f"auto's {' and '.join(chosen)} model" if chosen else ""
    if spec.task == "lens":
        from crclean.lenses._manifest import DEFAULT_LENS_MODEL, DEFAULT_MULTIBAND_LENS_MODEL

        return {DEFAULT_LENS_MODEL: "default for single files",
                DEFAULT_MULTIBAND_LENS_MODEL: "default for {band} patterns"}.get(spec.name, "")
    return ""


@click.command("models")
def models_command():
    """List every model: cosmic-ray masks, inpainting and lens finders.

    For each: the data it is meant for, what it reads (units or bands), its
    measured quality, and its weights file with the sha256 crclean checks.
    """
    for number, (task, models) in enumerate(registry().items()):
        if number:
            click.echo("")
        click.echo(f"# {_HEADINGS[task]}")
        if task == "mask":
            _auto_lines()
        for spec in models.values():
            role = _role(spec)
            click.echo(f"{spec.name}  ({role})" if role else spec.name)
            _line("for", spec.instruments)
            _line("input", _input(spec))
            _line("quality", spec.quality or _UNMEASURED)
            if spec.kind == "network":
                if spec.task != "lens":
                    _line("tiles", f"{spec.tile_size} px, overlapping by {spec.overlap} px, by default")
                try:
                    location = str(weights_path(spec))
                except ModelError as error:
                    location = f"NOT INSTALLED: {error}"
                _line("weights", location)
                _line("sha256", spec.sha256)
            _line("source", spec.reference)
