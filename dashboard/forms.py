"""Dashboard forms: text fields a person types, turned into the run request's values and checked by the same
service function as the API's (services.run_spec), so the page and the API accept exactly the same runs."""

import shlex
from typing import cast

from django import forms

from containersvc.gpu import GpuDevice, GpuInventory
from containersvc.services.containers import RunSpec
from containersvc.services.run_spec import RunSpecInvalid, run_spec_parse

GPU_NONE, GPU_ALL, GPU_CHOSEN = "none", "all", "chosen"
GIB = 1024**3
MIB = 1024**2

# Request field -> form field, so a validation error lands next to the field that caused it.
API_FIELDS = {
    "image": "image",
    "names": "name",
    "hash": "hash",
    "ports": "ports",
    "envs": "envs",
    "labels": "labels",
    "keeps": "keeps",
    "assets": "assets",
    "capabilities": "gpu",
    "command": "command",
    "resources": None,  # its fields' errors name the field (cpus, memoryBytes, pidsLimit)
}


def _pairs(text: str, field: str) -> list[dict]:
    pairs = []
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise forms.ValidationError(f"Write each {field} as KEY=value, one a line: '{line[:60]}'.")
        pairs.append({"key": key.strip(), "value": value})
    return pairs


class RunContainerForm(forms.Form):
    image = forms.CharField(max_length=512, help_text="e.g. registry:5000/team/app:1.2")
    name = forms.CharField(max_length=128, required=False)
    hash = forms.CharField(max_length=255, required=False, help_text="Same name and hash already running: no-op.")
    ports = forms.CharField(
        required=False, help_text="internal:host pairs, comma separated; host 0 picks a free port (8080:0)."
    )
    envs = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}), help_text="KEY=value a line.")
    labels = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="key=value a line.")
    keeps = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="A container path to keep a line; add :ro for read-only (/data:ro).",
    )
    assets = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="ENV_VAR=https://… a line: the file is downloaded once and its path given in ENV_VAR.",
    )
    command = forms.CharField(required=False, help_text="Optional, shell-quoted: sh -c 'echo hi'.")
    cpus = forms.FloatField(label="CPUs", required=False, help_text="Limit, e.g. 0.5; empty: the node's default.")
    memory_mib = forms.IntegerField(
        label="Memory (MiB)", required=False, help_text="Limit, swap included; empty: the node's default."
    )
    pids_limit = forms.IntegerField(label="PIDs", required=False, help_text="Most processes; empty: node default.")
    gpu = forms.ChoiceField(
        label="GPUs",
        choices=[(GPU_NONE, "None"), (GPU_ALL, "All GPUs"), (GPU_CHOSEN, "These GPUs:")],
        initial=GPU_NONE,
        required=False,
        widget=forms.RadioSelect,
    )
    gpu_ids = forms.MultipleChoiceField(label="GPUs to give", required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, data=None, *, gpus: GpuInventory | None = None, sample: dict | None = None, **kwargs) -> None:
        """`gpus`: the node's inventory (None or unavailable: GPUs are not offered); `sample`: the latest
        sample payload, to show which GPUs are busy."""
        super().__init__(data, **kwargs)
        if gpus is None or not gpus.available:
            cast(forms.ChoiceField, self.fields["gpu"]).choices = [(GPU_NONE, "None")]
            self.fields["gpu"].help_text = "GPUs are unavailable: no NVIDIA GPU on this node."
            del self.fields["gpu_ids"]
            return
        readings = {reading["index"]: reading for reading in (sample or {}).get("gpus", [])}
        cast(forms.ChoiceField, self.fields["gpu_ids"]).choices = [
            (str(device.index), _gpu_label(device, readings.get(device.index))) for device in gpus.devices
        ]
        self.fields["gpu_ids"].help_text = "Busy: compute processes run on it now (latest sample)."

    def clean_ports(self) -> list[dict]:
        ports = []
        for item in self.cleaned_data["ports"].replace(" ", "").split(","):
            if not item:
                continue
            internal, _, host = item.partition(":")
            if not internal.isdigit() or (host and not host.isdigit()):
                raise forms.ValidationError(f"'{item[:40]}' is not internal:host (numbers).")
            ports.append({"internal": int(internal), "host": int(host or 0)})
        return ports

    def clean_envs(self) -> list[dict]:
        return _pairs(self.cleaned_data["envs"], "variable")

    def clean_labels(self) -> list[dict]:
        return _pairs(self.cleaned_data["labels"], "label")

    def clean_assets(self) -> list[dict]:
        return [
            {"envVarKey": pair["key"], "url": pair["value"].strip()}
            for pair in _pairs(self.cleaned_data["assets"], "asset")
        ]

    def clean_keeps(self) -> list[dict]:
        keeps = []
        for line in self.cleaned_data["keeps"].splitlines():
            if line.strip():
                path, read_only = (line.strip()[:-3], True) if line.strip().endswith(":ro") else (line.strip(), False)
                keeps.append({"path": path, "readOnly": read_only})
        return keeps

    def clean_command(self) -> list[str]:
        try:
            return shlex.split(self.cleaned_data["command"])
        except ValueError as error:
            raise forms.ValidationError(f"The command cannot be split: {error}.") from error

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data  # what Form.clean() returns
        chosen = data.get("gpu_ids") or []
        if data.get("gpu") == GPU_CHOSEN and not chosen:
            self.add_error("gpu_ids", "Tick the GPUs to give, or choose None or All GPUs.")
        elif chosen and data.get("gpu") != GPU_CHOSEN:
            self.add_error("gpu_ids", "Choose 'These GPUs:' to give only the ticked GPUs, or untick them.")
        return data

    def _capabilities(self) -> dict:
        mode = self.cleaned_data.get("gpu") or GPU_NONE
        if mode == GPU_CHOSEN:
            return {"gpuEnabled": True, "gpuIds": self.cleaned_data["gpu_ids"]}
        return {"gpuEnabled": mode == GPU_ALL}

    def api_data(self) -> dict:
        """The run request's values, as the API takes them (call after is_valid())."""
        data = self.cleaned_data
        body = {
            "image": data["image"],
            "names": [data["name"]] if data["name"] else [],
            "hash": data["hash"],
            "ports": data["ports"],
            "envs": data["envs"],
            "labels": data["labels"],
            "keeps": data["keeps"],
            "assets": data["assets"],
            "capabilities": self._capabilities(),
        }
        if data["command"]:
            body["command"] = data["command"]
        resources = {
            "cpus": data.get("cpus"),
            "memoryBytes": data["memory_mib"] * MIB if data.get("memory_mib") is not None else None,
            "pidsLimit": data.get("pids_limit"),
        }
        if any(value is not None for value in resources.values()):
            body["resources"] = {key: value for key, value in resources.items() if value is not None}
        return body

    def run_spec(self) -> RunSpec | None:
        """The run the form asks for, validated as the API validates it; None with the error added."""
        try:
            return run_spec_parse(data=self.api_data())
        except RunSpecInvalid as error:
            self.add_error(API_FIELDS.get(error.field), error.detail)
            return None


def _gpu_label(device: GpuDevice, reading: dict | None) -> str:
    label = f"GPU {device.index} · {device.name}"
    if reading is None:
        return label
    processes = len(reading["processes"])
    state = f"busy: {processes} process{'es' if processes != 1 else ''}" if processes else "no processes"
    details = [state]
    if reading["utilizationPercent"] is not None:
        details.append(f"{reading['utilizationPercent']} %")
    if reading["memoryUsedBytes"] is not None:
        details.append(f"{reading['memoryUsedBytes'] / GIB:.1f} of {device.memory_total_bytes / GIB:.1f} GiB")
    return f"{label} ({', '.join(details)})"


class BuildForm(forms.Form):
    name = forms.CharField(max_length=512, label="Tag", help_text="e.g. team/app:dev")
    context_path = forms.CharField(max_length=4096, label="Context", help_text="A directory under the build root.")
    dockerfile_path = forms.CharField(
        max_length=4096, required=False, label="Dockerfile", help_text="Inside the context; default Dockerfile."
    )


class AuditFilterForm(forms.Form):
    action = forms.CharField(max_length=64, required=False)
    actor = forms.CharField(max_length=150, required=False)


class PullForm(forms.Form):
    image = forms.CharField(max_length=512, help_text="e.g. registry:5000/team/app:1.2")


class ImageRemoveForm(forms.Form):
    image = forms.CharField(max_length=512, widget=forms.HiddenInput)


class ImagePruneForm(forms.Form):
    unused = forms.BooleanField(required=False)
