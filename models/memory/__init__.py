"""Memory management: estimate what a run needs, plan how to run it, recover from out-of-memory.

    from models.memory import plan_memory, run_with_oom_fallback, apply_memory_plan
    plan = plan_memory("flux-dev", 1024, 1024, 28, 0.25, gpu_free_bytes, ram_free_bytes)
    print(plan.explanation)                         # one line for the CLI report / UI status
    apply_memory_plan(pipe, plan)                   # offload + VAE options via diffusers
    result = run_with_oom_fallback(lambda p: run(p), plan,
                                   before_retry=lambda new, old, why: apply_memory_plan(pipe, new))
"""

from models.memory.offload import apply_memory_plan, quantization_config, reset_memory_options
from models.memory.oom import OutOfMemoryPlanError, free_memory, is_out_of_memory, run_with_oom_fallback
from models.memory.planner import (
    PROFILES,
    MemoryBudget,
    MemoryPlan,
    detect_budget,
    evaluate_plans,
    plan_for_profile,
    plan_for_this_machine,
    plan_memory,
)
from models.memory.prompt_cache import PromptEmbeddingCache, encode_flux_prompt, release_text_encoders, text_encoders_on

__all__ = [
    "PROFILES",
    "MemoryBudget",
    "MemoryPlan",
    "OutOfMemoryPlanError",
    "PromptEmbeddingCache",
    "apply_memory_plan",
    "detect_budget",
    "encode_flux_prompt",
    "evaluate_plans",
    "free_memory",
    "is_out_of_memory",
    "plan_for_profile",
    "plan_for_this_machine",
    "plan_memory",
    "quantization_config",
    "release_text_encoders",
    "reset_memory_options",
    "run_with_oom_fallback",
    "text_encoders_on",
]
