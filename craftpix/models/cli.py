"""``craftpix models``: download (``pull``) and list (``list``) the diffusion models."""

from __future__ import annotations

import click

from craftpix.engines.sds import require_diffusion
from craftpix.errors import ModelNotAvailable
from craftpix.models.hub import download, hub_cache, hub_offline
from craftpix.models.ids import (
    DEPTH_DEFAULT,
    DPT_HYBRID,
    FAMILY_DEFAULTS,
    FAST_LORA,
    KNOWN_REVISIONS,
    SD15,
    SDXL_BASE,
    TAESDXL,
    ModelRef,
    base_ref,
    dependent_refs,
)


# --- `craftpix models` ------------------------------------------------------------------------------
def default_refs(family: str = "sdxl", *, controlnet: bool = True, depth: bool = False,
                 full_vae: bool = False) -> list[ModelRef]:
    """What ``craftpix models pull`` fetches for one configuration."""
    from craftpix.engines.sds.settings import SDSSettings

    base = base_ref(SDXL_BASE if family == "sdxl" else SD15, full_vae=full_vae)
    settings = SDSSettings(model=base.name, vae="full" if full_vae else "tiny",
                           depth_model=None)
    controls = ("canny", "depth") if controlnet else ()
    vae_ref, cn, depth_ref, _ = dependent_refs(settings, family, controls)
    refs = [base, *(r for r in (vae_ref, *cn.values()) if r is not None)]
    if depth and depth_ref is not None:
        refs.append(depth_ref)
    elif depth and not controlnet:
        name = str(FAMILY_DEFAULTS[family]["depth_model"])
        refs.append(ModelRef(name, "depth estimator", "transformers",
                             revision=KNOWN_REVISIONS.get(name)))
    return refs


def _known_roles() -> dict[str, str]:
    roles = {SDXL_BASE: "SDXL base (default)", SD15: "Stable Diffusion 1.5",
             DEPTH_DEFAULT: "depth estimator (SD 1.5 default)",
             DPT_HYBRID: "depth estimator (SDXL default)"}
    for family, repo in FAST_LORA.items():
        roles[repo] = f"{family} few-step LoRA (--reference-lora fast)"
    for family, d in FAMILY_DEFAULTS.items():
        for role, name in d.items():
            if name:
                roles.setdefault(name, f"{family} {role.replace('_', ' ')}")
    return roles


@click.group("models")
def models_group() -> None:
    """Download and list the diffusion models the prompt engine uses."""


@models_group.command("pull")
@click.option("--sdxl", "family", flag_value="sdxl", default=True,
              help="Stable Diffusion XL (the default engine model, ~10 GB in fp16).")
@click.option("--sd15", "family", flag_value="sd15",
              help="Stable Diffusion 1.5 (lighter, ~3 GB in fp16).")
@click.option("--no-controlnet", is_flag=True,
              help="Skip the canny/depth ControlNets (--quality draft and --reference none "
                   "do not use them).")
@click.option("--depth", is_flag=True,
              help="Also the depth estimator of the depth ControlNet (--image, and a prompt's "
                   "reference with --quality fine or paper).")
@click.option("--full-vae", is_flag=True, help="Also the model's full VAE (for --vae full).")
@click.option("--fast-reference", is_flag=True,
              help="Also the few-step LCM-LoRA (OpenRAIL++ licence) for --reference-lora fast: "
                   "reference images in 4 steps instead of 20.")
def pull_command(family: str, no_controlnet: bool, depth: bool, full_vae: bool,
                 fast_reference: bool = False) -> None:
    """Download what one configuration needs (safetensors and configs only)."""
    require_diffusion()  # one line naming the extra on a core install
    refs = default_refs(family, controlnet=not no_controlnet, depth=depth, full_vae=full_vae)
    if hub_offline():
        raise ModelNotAvailable(
            "cannot download: HF_HUB_OFFLINE is set; unset it to pull models, or copy them "
            f"into {hub_cache()} from a machine that has them")
    for ref in refs:
        click.echo(f"fetching {ref.name} ({ref.role})", err=True)
        rev = f" --revision {ref.revision}" if ref.revision else ""
        # Never "run `craftpix models pull`" from inside that command: say what else to do.
        folder = download(ref, prefer_fp16=True, hint=(
            f"retry later, or fetch it with `hf download {ref.name}{rev}`, or copy it "
            f"into {hub_cache()}"))
        click.echo(f"  ok  {ref.name}  →  {folder}")
    if fast_reference:
        from craftpix.models.lora import locate_lora

        repo = FAST_LORA[family]
        click.echo(f"fetching {repo} (few-step LoRA)", err=True)
        click.echo(f"  ok  {repo}  →  {locate_lora(repo, allow_download=True)}")


def _size(n: int) -> str:
    if n < 1000:
        return f"{n} B"
    value = n / 1000
    for unit in ("KB", "MB"):
        if value < 1000:
            return f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


@models_group.command("list")
def list_command() -> None:
    """Show the models in the Hugging Face cache, with their sizes."""
    require_diffusion()  # one line naming the extra on a core install
    from huggingface_hub import scan_cache_dir

    cache = hub_cache()
    try:
        repos = sorted((r for r in scan_cache_dir(cache).repos if r.repo_type == "model"),
                       key=lambda r: r.repo_id)
    except Exception:  # CacheNotFound, unreadable folder
        repos = []
    if not repos:
        click.echo(f"no models cached yet (cache: {cache}); see `craftpix models pull --help`")
        return
    roles = _known_roles()
    width = max(len(r.repo_id) for r in repos)
    for r in repos:
        role = roles.get(r.repo_id, "")
        click.echo(f"{r.repo_id:<{width}}  {_size(r.size_on_disk):>9}  {role}".rstrip())
    total = sum(r.size_on_disk for r in repos)
    click.echo(f"{len(repos)} model(s), {_size(total)} in {cache}")
    missing = [n for n in (SDXL_BASE, TAESDXL) if n not in {r.repo_id for r in repos}]
    if missing:
        click.echo(f"not cached: {', '.join(missing)} (`craftpix models pull --sdxl`)")

