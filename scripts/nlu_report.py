"""Print accuracy and macro-F1 of `rasa test nlu` on the held-apart set; fail below the target."""
import json
import sys

TARGET_MACRO_F1 = 0.90

report = json.load(open(sys.argv[1], encoding="utf-8"))
accuracy = report["accuracy"]
macro_f1 = report["macro avg"]["f1-score"]
weak = sorted(
    (v["f1-score"], k) for k, v in report.items() if isinstance(v, dict) and "support" in v and k not in ("macro avg", "weighted avg", "micro avg")
)[:3]
print(f"NLU held-apart set: accuracy {accuracy:.3f}, macro-F1 {macro_f1:.3f} (target ≥ {TARGET_MACRO_F1})")
print("weakest intents: " + ", ".join(f"{name} {f1:.2f}" for f1, name in weak))
sys.exit(0 if macro_f1 >= TARGET_MACRO_F1 else 1)
