"""Files ArcGIS Pro loads: the raster-function folder and the deep-learning package (``.dlpk``).

* :func:`install_function` writes ``ClassifyLandcover/`` — a shim module whose class name equals
  its module name (ArcGIS instantiates the class named like the file), the ``.rft.xml`` raster
  function template whose arguments are the function's parameters, and a README with the two
  install steps. Copied into Pro's ``Raster\\Functions\\Custom`` folder, it shows under *Custom* in
  the Raster Functions pane.
* :func:`export_dlpk` writes the model as ONNX, an Esri model definition (``.emd``) naming the shim
  as its inference function, and the ``.dlpk`` zip of the three, for Image Analyst's "Classify
  Pixels Using Deep Learning". The ``.emd`` has no ``DataRange``: ArcGIS would rescale the input
  from the raster's statistics, while the model expects the tutorial's fixed ``/256`` scaling.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from .._atomic import atomic_output, atomic_write_bytes
from .._version import __version__
from ..errors import StorageError
from ..models.builtin import is_builtin, resolve_model
from ..models.formats import is_int8_model, load_model_file
from ..models.locate import local_model
from ..models.onnx_export import save_onnx
from .function import OUTPUTS, ClassifyLandcover

log = logging.getLogger(__name__)

FUNCTION_NAME = "ClassifyLandcover"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XS = "http://www.w3.org/2001/XMLSchema"
TYPENS = "http://www.esri.com/schemas/ArcGIS/10.8"

SHIM = '''"""ClassifyLandcover: landcover-sdk's land-cover model as an ArcGIS Pro Python raster function.

Written by `landcover arcgis install-function` (landcover-sdk {version}); see README.txt. ArcGIS
instantiates the class named like this file; the work is done by landcover_sdk.arcgis.
"""

try:
    from landcover_sdk.arcgis import ClassifyLandcover as _Function
except ImportError as _error:  # the SDK is not installed in ArcGIS Pro's Python: say so instead of failing
    _MISSING = str(_error)

    class _Function:  # type: ignore[no-redef]
        def __init__(self):
            self.name = "Classify Land Cover"
            self.description = "landcover-sdk is not installed in this Python environment."

        def isLicensed(self, **productInfo):
            return {{"okToRun": False,
                     "message": "landcover-sdk cannot be imported (" + _MISSING + "): {hint}"}}

        def getParameterInfo(self):
            return [{{"name": "raster", "dataType": "raster", "value": None, "required": True,
                      "displayName": "Input Raster", "description": "4-band NAIP imagery"}}]


class ClassifyLandcover(_Function):
    """Land cover of 4-band NAIP imagery (soft and hard renders, probabilities or class ids)."""
'''

README = """ClassifyLandcover - land cover in real time in ArcGIS Pro (landcover-sdk {version})
=====================================================================================

This folder is an ArcGIS Pro raster function: it classifies 4-band NAIP imagery (red, green,
blue, near-infrared) block by block as you pan, like the "ClassifyCNTK" function of the Azure
pixel-level land classification tutorial - without CNTK, without torch, with ONNX Runtime.

Install (two steps)
-------------------
1. Put landcover-sdk into ArcGIS Pro's Python. In ArcGIS Pro: Settings > Package Manager >
   Environment Manager > clone "arcgispro-py3" and make the clone active. Then, in the
   "Python Command Prompt" (Start menu > ArcGIS), run:

       pip install landcover-sdk

   and restart ArcGIS Pro.
2. Copy this whole ClassifyLandcover folder into
       C:\\Program Files\\ArcGIS\\Pro\\Resources\\Raster\\Functions\\Custom\\
   (or your own custom raster functions folder).

Use
---
Imagery tab > Raster Functions > Custom > ClassifyLandcover. Set the Input Raster to a NAIP
layer; Output "Soft" is the tutorial's "AI Mixed Probabilities", "Hard" its "AI Classification".
Add the function twice (Soft and Hard) and link the views to get the tutorial's synced windows.
Model: {model}. Nothing is computed when zoomed out beyond the Maximum Cell Size (default 1.5 x
the imagery's cell size): zoom in to see land cover.
"""


def _shim() -> str:
    from .function import INSTALL_HINT

    return SHIM.format(version=__version__, hint=INSTALL_HINT)


def function_template(parameters: list[dict[str, Any]], *, values: dict[str, Any] | None = None) -> str:
    """The ``.rft.xml`` raster function template of ``ClassifyLandcover.py`` for these parameters.

    Laid out as Esri's own templates (Esri/raster-functions ``functions/*.rft.xml``): a
    ``PythonAdapterFunction`` whose argument names are ``PythonModule``, ``ClassName`` and then the
    function's parameters, in order.

    Args:
        parameters: the function's ``getParameterInfo()``.
        values: defaults to write instead of the declared ones (e.g. ``{"model": "C:/models/m.onnx"}``).
    """
    values = values or {}
    names = ["PythonModule", "ClassName"] + [p["name"] for p in parameters]
    args = [f"      <AnyType xsi:type='xs:string'>{FUNCTION_NAME}.py</AnyType>",
            f"      <AnyType xsi:type='xs:string'>{FUNCTION_NAME}</AnyType>"]
    for p in parameters:
        value = values.get(p["name"], p.get("value"))
        is_raster = p["dataType"] == "raster"
        if is_raster or value is None:
            value_xml = "<Value></Value>"
        else:
            kind = "xs:double" if p["dataType"] == "numeric" else "xs:string"
            value_xml = f"<Value xsi:type='{kind}'>{escape(str(value))}</Value>"
        args.append("\n".join([
            "      <AnyType xsi:type='typens:RasterFunctionVariable'>",
            f"        <Name>{escape('Raster' if is_raster else p['name'])}</Name>",
            f"        <Description>{escape(p.get('description', ''))}</Description>",
            f"        {value_xml}",
            f"        <IsDataset>{'true' if is_raster else 'false'}</IsDataset>",
            "      </AnyType>"]))
    name_xml = "\n".join(f"      <String>{escape(n)}</String>" for n in names)
    description = escape(ClassifyLandcover().description)
    return f"""<RasterFunctionTemplate xsi:type='typens:RasterFunctionTemplate' xmlns:xsi='{XSI}' xmlns:xs='{XS}' \
xmlns:typens='{TYPENS}'>
  <Name>{FUNCTION_NAME}</Name>
  <Description>{description}</Description>
  <Function xsi:type='typens:PythonAdapterFunction'>
    <Name>Classify Land Cover Function</Name>
    <Description>{description}</Description>
    <PixelType>UNKNOWN</PixelType>
  </Function>
  <Arguments xsi:type='typens:PythonAdapterFunctionArguments'>
    <Names xsi:type='typens:ArrayOfString'>
{name_xml}
    </Names>
    <Values xsi:type='typens:ArrayOfAnyType'>
{chr(10).join(args)}
    </Values>
  </Arguments>
  <Help>Land cover of NAIP imagery with landcover-sdk; see README.txt beside this file.</Help>
  <Type>0</Type>
  <Thumbnail></Thumbnail>
  <Definition></Definition>
  <Group>Land cover</Group>
  <Tag>landcover-sdk</Tag>
</RasterFunctionTemplate>
"""


def install_function(dest: str | Path, *, model: str | None = None, output: str | None = None) -> Path:
    """Write ``DEST/ClassifyLandcover/`` (shim module, ``.rft.xml`` template, README); its path.

    Args:
        dest: an existing folder (ArcGIS Pro's ``...\\Raster\\Functions\\Custom`` or anywhere to copy from).
        model: the model the template selects by default (a path on the ArcGIS machine, or
            ``builtin:NAME``; default the built-in tutorial model).
        output: the default output (``Soft``, ``Hard``, ``Probabilities`` or ``Classes``).

    Raises:
        StorageError: ``dest`` is not a folder, or ``ClassifyLandcover`` there is not a folder.
    """
    base = Path(dest)
    if not base.is_dir():
        raise StorageError(f"{base}: destination folder does not exist")
    if output is not None and output not in OUTPUTS:
        raise StorageError(f"output: {output!r} is not one of {', '.join(OUTPUTS)}")
    folder = base / FUNCTION_NAME
    if folder.exists() and not folder.is_dir():
        raise StorageError(f"{folder}: exists and is not a folder")
    params = ClassifyLandcover().getParameterInfo()
    values = {k: v for k, v in (("model", model), ("output", output)) if v is not None}
    files = {
        f"{FUNCTION_NAME}.py": _shim(),
        f"{FUNCTION_NAME}.rft.xml": function_template(params, values=values),
        "README.txt": README.format(version=__version__, model=model or "builtin:tutorial-250epochs (the tutorial's)"),
    }
    # Built beside the destination and renamed into place: never a half-written function folder.
    staging = Path(tempfile.mkdtemp(prefix=f".{FUNCTION_NAME}-", dir=base))
    try:
        staging.chmod(0o755)
        for name, text in files.items():
            (staging / name).write_text(text, encoding="utf-8")
        if folder.exists():
            old = base / f".{FUNCTION_NAME}-old"
            shutil.rmtree(old, ignore_errors=True)
            folder.rename(old)
            staging.rename(folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("wrote %s (%s)", folder, ", ".join(files))
    return folder


def model_definition(model: str | Path, model_file: str, *, name: str) -> dict[str, Any]:
    """The ``.emd`` of a model for Classify Pixels Using Deep Learning.

    Args:
        model: the model (to read its window, margin and classes).
        model_file: the model file's name inside the package.
        name: the model's name in ArcGIS.
    """
    from ..inference.backends import load_backend

    backend = load_backend(resolve_model(model))
    cfg, scheme = backend.config, backend.scheme
    return {
        "Framework": "ONNX",
        "ModelType": "ImageClassification",
        "ModelFile": model_file,
        "InferenceFunction": f"{FUNCTION_NAME}.py",
        "ModelName": name,
        "Version": __version__,
        "ImageHeight": cfg.window,
        "ImageWidth": cfg.window,
        "ModelPadding": cfg.margin,
        "BatchSize": 1,
        "ExtractBands": list(range(cfg.in_bands)),
        "Classes": [{"Value": c.id, "Name": c.name, "Color": [int(v) for v in c.color]} for c in scheme.classes],
        "LandcoverSDK": {"version": __version__, "precision": str(getattr(backend, "precision", "fp32")),
                         "inputScale": backend.input_scale},
    }


def export_dlpk(model: str | Path, dest: str | Path, *, name: str | None = None) -> Path:
    """Write ``<name>.onnx``, ``<name>.emd``, ``ClassifyLandcover.py`` and ``<name>.dlpk`` into ``dest``; the ``.dlpk``.

    Args:
        model: a ``.safetensors``/``.onnx``/CNTK ``.model`` file, storage URL or ``builtin:NAME``.
        dest: an existing folder.
        name: the package's name (default: the model file's stem).

    Raises:
        StorageError: ``dest`` is not a folder.
    """
    folder = Path(dest)
    if not folder.is_dir():
        raise StorageError(f"{folder}: destination folder does not exist")
    source = local_model(model)
    stem = name or (str(model).split(":", 1)[1] if is_builtin(model) else source.stem)
    onnx_path = folder / f"{stem}.onnx"
    if is_int8_model(source):
        atomic_write_bytes(onnx_path, source.read_bytes())
    else:
        save_onnx(load_model_file(source), onnx_path)
    emd = model_definition(onnx_path, onnx_path.name, name=stem)
    emd["LandcoverSDK"]["sourceSha256"] = hashlib.sha256(source.read_bytes()).hexdigest()
    emd_path = folder / f"{stem}.emd"
    atomic_write_bytes(emd_path, (json.dumps(emd, indent=2) + "\n").encode())
    shim_path = folder / f"{FUNCTION_NAME}.py"
    atomic_write_bytes(shim_path, _shim().encode())
    dlpk = folder / f"{stem}.dlpk"
    with atomic_output(dlpk) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in (emd_path, onnx_path, shim_path):
            zf.write(path, path.name)
    log.info("wrote %s (%s, %s, %s)", dlpk, emd_path.name, onnx_path.name, shim_path.name)
    return dlpk
