"""`vetbot kb …`: build, import, list, remove, search and evaluate the knowledge base; list its gaps."""
from __future__ import annotations

import json
import sys
from pathlib import Path

SUPPORTED = (".md", ".txt", ".docx", ".pdf")
GAP_KINDS = {"refused": "没找到", "did_you_mean": "您是想问"}


def register(groups) -> None:
    kb = groups.add_parser("kb", help="政策知识库").add_subparsers(dest="command", required=True)

    build = kb.add_parser("build", help="同步项目语料并重建索引")
    build.add_argument("--quiet", action="store_true")
    build.set_defaults(handler=cmd_build)

    imp = kb.add_parser("import", help="导入法规文件（.md .txt .docx .pdf，可给目录）")
    imp.add_argument("paths", nargs="+", type=Path)
    imp.set_defaults(handler=cmd_import)

    lst = kb.add_parser("list", help="列出知识库里的文件")
    lst.add_argument("--json", action="store_true")
    lst.add_argument("--all", action="store_true", help="也列出项目自带的语料条目")
    lst.set_defaults(handler=cmd_list)

    rm = kb.add_parser("remove", help="删除导入的文件")
    rm.add_argument("doc_ids", nargs="+")
    rm.set_defaults(handler=cmd_remove)

    search = kb.add_parser("search", help="检索；问题写 - 则从标准输入逐行读取")
    search.add_argument("question")
    search.add_argument("--top-k", type=int, default=3)
    search.add_argument("--mode", choices=("hybrid", "bm25", "dense"), default="hybrid")
    search.add_argument("--json", action="store_true")
    search.add_argument("--no-threshold", action="store_true", help="不做相关度过滤")
    search.set_defaults(handler=cmd_search)

    ev = kb.add_parser("eval", help="在开发问题集上评测 BM25 / 向量 / 混合检索")
    ev.add_argument("--sweep", action="store_true", help="同时列出不同阈值下的结果")
    ev.add_argument("--dialogue", action="store_true",
                    help="经过正在运行的助手逐句评测（回答、多轮追问、噪声、路由），与检索结果并列")
    ev.add_argument("--rasa-url", help="--dialogue：Rasa 地址（默认 http://localhost:$RASA_PORT）")
    ev.add_argument("--token", help="--dialogue：Rasa HTTP API 令牌（默认 $RASA_API_TOKEN 或数据目录里的 rasa_api_token）")
    ev.add_argument("--json", action="store_true", help="--dialogue：输出 JSON（含每一句的结果）")
    ev.set_defaults(handler=cmd_eval)

    judge = kb.add_parser("judge", help="相关度判定：在开发集上交叉验证，和单一余弦阈值比较")
    judge.add_argument("--fit", action="store_true", help="把拟合结果写入 knowledge/judge.json")
    judge.add_argument("--max-wrong", type=float, default=0.03, help="答错（自信地答了错的）最多占多少，默认 0.03")
    judge.add_argument("--min-refused", type=float, default=0.90, help="不可回答的问题至少拒答多少，默认 0.90")
    judge.set_defaults(handler=cmd_judge)

    gaps = kb.add_parser("gaps", help="答不上、只能猜的问题（问得最多的在前）")
    gaps.add_argument("--since", help="只列这一天（含）以来又被问到的，如 2026-12-01")
    gaps.add_argument("--limit", type=int, default=50, help="最多列几条（默认 50）")
    gaps.add_argument("--json", action="store_true")
    gaps.set_defaults(handler=cmd_gaps)


def _embedder():
    from knowledge.embedder import load_embedder

    return load_embedder()


def _rebuild(store, quiet: bool = False) -> None:
    from knowledge.index import build_index

    report = build_index(store, _embedder(), progress=not quiet)
    if not quiet:
        print(f"索引已更新：{report.passages} 段，{report.index_kind}，用时 {report.total_seconds:.1f} 秒")


def cmd_build(args) -> int:
    from knowledge.index import apply_repeals, open_store, sync_corpus

    from booking.catalogue import CatalogueError
    from knowledge.corpus import CorpusError

    store = open_store()
    try:
        changed = sync_corpus(store)
    except (CorpusError, CatalogueError) as error:  # a bad entry: its file and what is wrong
        print(f"语料有误，索引没有更新：{error}", file=sys.stderr)
        return 1
    repealed = apply_repeals(store)
    if not args.quiet:
        print(f"项目语料：{changed} 条有变化；废止状态更新：{repealed} 个文件")
    _rebuild(store, args.quiet)
    return 0


def _expand(paths: list[Path]) -> list[Path]:
    files = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in SUPPORTED))
        else:
            files.append(path)
    return files


def cmd_import(args) -> int:
    from knowledge.importer import ImportErrorWithReason
    from knowledge.index import import_document, open_store, sync_corpus

    store = open_store()
    sync_corpus(store)
    failed = 0
    for path in _expand(args.paths):
        try:
            doc, changed = import_document(store, path)
        except (ImportErrorWithReason, OSError) as err:
            print(f"导入失败 {path.name}：{err}", file=sys.stderr)
            failed += 1
            continue
        state = "已导入" if changed else "未变化"
        force = "" if doc.in_force else "（已废止）"
        print(f"{state}：{doc.title}{force}，{len(doc.passages)} 条，版本日期 {doc.date}")
    _rebuild(store)
    return 1 if failed else 0


def cmd_list(args) -> int:
    from knowledge.index import open_store

    docs = open_store().documents(None if args.all else "import")
    if args.json:
        print(json.dumps([d.__dict__ for d in docs], ensure_ascii=False, indent=1))
        return 0
    for doc in docs:
        force = "现行" if doc.in_force else "已废止"
        print(f"{doc.doc_id}\t{doc.title}\t{doc.date}\t{force}\t{doc.passage_count} 条")
    if not docs:
        print("还没有导入任何文件。")
    return 0


def cmd_remove(args) -> int:
    from knowledge.index import open_store

    store = open_store()
    missing = [doc_id for doc_id in args.doc_ids if not store.remove_document(doc_id)]
    for doc_id in missing:
        print(f"没有找到：{doc_id}", file=sys.stderr)
    if len(missing) < len(args.doc_ids):
        _rebuild(store)
    return 1 if missing else 0


def cmd_search(args) -> int:
    from knowledge.answer import citation
    from knowledge.search import KnowledgeBase

    kb = KnowledgeBase(_embedder())
    questions = (line.strip() for line in sys.stdin) if args.question == "-" else [args.question]
    for question in questions:
        if not question:
            continue
        hits = kb.search(question, top_k=args.top_k, mode=args.mode, strict=not args.no_threshold)
        if args.json:
            print(json.dumps([h.to_dict() for h in hits], ensure_ascii=False), flush=True)
            continue
        if not hits:
            print(f"问：{question}\n  知识库里没有找到可靠的答案。")
        for rank, hit in enumerate(hits, 1):
            print(f"{rank}. {hit.passage.title}  [{hit.relevance:.3f}]\n   {citation(hit.passage)}")
            print(f"   {' '.join(hit.passage.text.split())[:120]}")
    return 0


def cmd_eval(args) -> int:
    if args.dialogue:
        from knowledge.dialogue_eval import main as dialogue

        return dialogue(args.rasa_url, args.token, as_json=args.json)
    from knowledge.evaluate import main as evaluate

    return evaluate(_embedder(), sweep=args.sweep)


def cmd_judge(args) -> int:
    """Fit the relevance judge on the dev part of tests/kb_eval (thresholds by cross-validation),
    print its figures beside the cosine gate's on the same questions; --fit writes the file."""
    from knowledge.evaluate import eval_knowledge_base, load_questions
    from knowledge.judge import JUDGE_FILE, collect, fit, table

    kb = eval_knowledge_base(_embedder())
    rows = collect(kb, load_questions())
    judge, report = fit(rows, args.max_wrong, args.min_refused)
    print(f"判定阈值：回答 ≥ {judge.answer:.3f}，“您是想问” ≥ {judge.suggest:.3f}（5 折交叉验证，只用 dev；"
          f"目标：答错 ≤ {args.max_wrong}，不可回答拒答 ≥ {args.min_refused}）\n")
    print(table(report))
    print("\n系数（标准化后）：" + "，".join(f"{name} {coef:+.2f}" for name, coef in
                                          zip(judge.to_json()["features"], judge.coef)))
    if args.fit:
        judge.save()
        print(f"\n已写入 {JUDGE_FILE}")
    else:
        print("\n（没有写文件；加 --fit 写入 knowledge/judge.json）")
    return 0


def cmd_gaps(args) -> int:
    from booking.calendar import TZ
    from booking.cli import Refusal, _day, _pad, _run, _width
    from knowledge.gaps import listing

    def show() -> None:
        if args.limit < 1:
            raise Refusal("--limit 要写大于 0 的数，如 --limit 20。")
        gaps = listing(_day(args.since, "--since"), args.limit)
        if args.json:
            print(json.dumps([gap.to_dict() for gap in gaps], ensure_ascii=False, indent=1))
            return
        if not gaps:
            print(f"{args.since} 以来没有答不上的问题。" if args.since else "还没有答不上的问题。")
            return
        rows = [["次数", "最近一次", "结果", "问题"]] + [
            [str(gap.count), gap.last_seen.astimezone(TZ).strftime("%Y-%m-%d %H:%M"),
             " ".join(filter(None, [GAP_KINDS[gap.kind], gap.passage_id])), gap.question]
            for gap in gaps]
        widths = [max(_width(row[i]) for row in rows) for i in range(3)]
        for row in rows:
            print("  ".join([_pad(cell, w) for cell, w in zip(row, widths)] + [row[3]]))
        print(f"共 {len(gaps)} 条，按被问次数从多到少排列（次数为累计）。")

    return _run(show)
