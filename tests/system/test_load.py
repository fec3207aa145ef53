"""A class at once: 8 clients, 5 mixed calls each, all answered, none failed."""

from concurrent.futures import ThreadPoolExecutor

from gradio_client import Client, handle_file

from demos.common import EXAMPLES_DIR

SCENE = str(EXAMPLES_DIR / "scenes" / "scene-2.png")
STAR = str(EXAMPLES_DIR / "shapes" / "yellow-star.png")
# (api_name, arguments after the picture, a check of the answer)
CALLS = [
    ("/classify", (STAR,), lambda out: out[0]["label"] == "star"),
    ("/attention", (STAR,), lambda out: "rollout" in out[1]),
    ("/detect", (SCENE,), lambda out: len(out[1]) >= 3),
    ("/segment", (SCENE, "[[40, 40]]"), lambda out: "GrabCut" in out[3]),
    ("/zero_shot", (STAR,), lambda out: out[0]["label"] == "yellow star"),
    ("/reconstruct", (STAR,), lambda out: out[-1]["MAE"]["model"] < out[-1]["MAE"]["baseline"]),
]


def test_eight_clients_five_mixed_calls_each(app_url):
    client = Client(app_url, verbose=False)
    available = {e for e in client.view_api(print_info=False, return_format="dict")["named_endpoints"]}
    calls = [c for c in CALLS if c[0] in available]
    assert len(calls) == len(CALLS), f"endpoints missing: {set(c[0] for c in CALLS) - available}"

    def student(k: int) -> list[bool]:
        me = Client(app_url, verbose=False)
        answers = []
        for j in range(5):
            api_name, (picture, *rest), ok = calls[(k + j) % len(calls)]
            answers.append(bool(ok(me.predict(handle_file(picture), *rest, api_name=api_name))))
        return answers

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(student, range(8)))
    assert all(all(r) for r in results), results
