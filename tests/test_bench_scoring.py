"""Every scorer against examples worked out by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import pytest

from glyph_cli.bench import scoring as s


def test_string_match_all_counts_each_reference():
    # two of the three references occur, case-insensitively
    assert s.string_match_all("The numbers are 123 and 456.", ["123", "456", "789"]) == pytest.approx(2 / 3)
    assert s.string_match_all("VAR ABCDE, var fghij", ["abcde", "FGHIJ"]) == 1.0
    assert s.string_match_all("nothing here", ["abc"]) == 0.0


def test_string_match_part_needs_any_reference():
    assert s.string_match_part("Paris is the answer", ["London", "paris"]) == 1.0
    assert s.string_match_part("Rome", ["London", "Paris"]) == 0.0


def test_ruler_postprocess_turns_control_characters_into_newlines():
    assert s.ruler_postprocess("  1234\x00567\t\n ") == "1234\n567"


def test_mrcr_prefix_rule_and_sequence_ratio():
    prefix = "aYooSG8CQg"
    answer = prefix + "Hello world"
    assert s.mrcr_score(answer, answer, prefix) == 1.0
    assert s.mrcr_score("Hello world", answer, prefix) == 0.0  # no prefix, no credit
    # "Hello" vs "Hello world": 5 matching chars, 2*5 / (5 + 11) = 0.625
    assert s.mrcr_score(prefix + "Hello", answer, prefix) == pytest.approx(0.625)


def test_normalize_answer_drops_case_punctuation_articles():
    assert s.normalize_answer("The  Eiffel-Tower, in a Paris!") == "eiffeltower in paris"
    assert s.normalize_zh_answer("北京，是 首都。") == "北京是首都"


def test_qa_f1_by_hand():
    # "cat sat on mat" vs "cat on mat": 3 common, P = 3/4, R = 1, F1 = 2 * .75 / 1.75
    assert s.qa_f1_score("The cat sat on the mat", "a cat on a mat") == pytest.approx(6 / 7)
    assert s.qa_f1_score("dog", "cat") == 0.0


def test_qa_f1_zh_tokenises_with_jieba():
    # jieba keeps 北京大学 one word, so it shares nothing with 北京 (per character it would be 2/3)
    assert s.zh_tokens("北京大学") == ["北京大学"]
    assert s.qa_f1_zh_score("北京大学", "北京") == 0.0
    # 今天天气 / 很 / 好 against 今天天气 / 好: 2 common, P = 1, R = 2/3, F1 = 0.8
    assert s.qa_f1_zh_score("今天天气好", "今天天气很好") == pytest.approx(0.8)
    assert s.zh_tokens("用GPT4写") == ["用", "GPT4", "写"]


def test_rouge_l_by_hand():
    # words: ref {the, cat, was, on, mat} (5), hyp {the, cat, sat, on, mat} (5);
    # LCS "the cat on the mat" -> word set {the, cat, on, mat} = 4; R = P = 4/5
    assert s.rouge_l("the cat sat on the mat", "the cat was on the mat") == pytest.approx(0.8, abs=1e-7)
    assert s.rouge_l("", "anything") == 0.0
    assert s.rouge_l("...", "anything") == 0.0


def test_rouge_l_summary_level_unions_over_sentences():
    # reference sentence "a b c d"; hypothesis sentences "a b" and "c d": union of LCS = {a,b,c,d}
    # m = 4, n = 4, overlap 4 -> F = 1
    assert s.rouge_l("a b. c d", "a b c d") == pytest.approx(1.0, abs=1e-7)


def test_rouge_zh_by_hand():
    # jieba: 今天天气 好 vs 今天天气 很 好: ref set {今天天气, 很, 好} = 3, hyp set {今天天气, 好} = 2,
    # LCS words {今天天气, 好} = 2 -> R = 2/3, P = 1, F = 0.8
    assert s.rouge_zh_score("今天天气好", "今天天气很好") == pytest.approx(0.8, abs=1e-7)


def test_classification_by_hand_and_official_quirk():
    classes = ["Location", "City", "Country"]
    assert s.classification_score("Location and City", "City", all_classes=classes) == 0.5
    assert s.classification_score("Country", "City", all_classes=classes) == 0.0
    # matches [New, York, New York]; removing "New" while iterating skips "York", which stays:
    # [York, New York] -> 1/2 (a loop without the quirk would give 1.0)
    assert s.classification_score("New York", "New York", all_classes=["New", "York", "New York"]) == 0.5


def test_retrieval_and_count_share_of_numbers():
    assert s.retrieval_score("Paragraph 12, maybe Paragraph 3", "Paragraph 12") == 0.5
    assert s.retrieval_score("no idea", "Paragraph 12") == 0.0
    assert s.retrieval_zh_score("答案是段落5", "段落5") == 1.0
    assert s.count_score("There are 7 unique paragraphs out of 10", 7) == 0.5


def test_code_sim_first_plain_line_and_fuzzy_ratio():
    assert s.code_sim_score("```python\nx = foo(1)\n```", "x = foo(1)") == 1.0
    # "return a+b" vs "return a + b": 10 matching chars, round(100 * 20 / 22) = 91
    assert s.code_sim_score("# comment\nreturn a+b", "return a + b") == 0.91
    assert s.fuzz_ratio("", "") == 100
    assert s.fuzz_ratio("", "x") == 0


def test_longbench_score_first_line_rule_and_best_answer():
    classes = ["Location", "Description"]
    assert s.longbench_score("trec", "\nLocation\nDescription", ["Location"], classes) == 1.0
    assert s.longbench_score("narrativeqa", "a red fox", ["blue whale", "red fox"]) == 1.0
    assert set(s.LONGBENCH_METRICS) >= {"narrativeqa", "lcc", "passage_retrieval_zh", "vcsum"}
    assert len(s.LONGBENCH_METRICS) == 21


def test_score_task_dispatch_and_the_protocols_choice_of_what_is_scored():
    from glyph_cli.bench import protocol

    record = {"metric": "string_match_all", "answers": ["42"], "details": {}}
    glyph = protocol.get("glyph").prediction
    assert s.score_task(record, glyph("<think>maybe 41</think>The answer is 42")) == 1.0
    assert s.score_task(record, glyph("<think>it is 42</think>I do not know")) == 0.0
    assert s.score_task(record, glyph("I do not know", reasoning="it is 42")) == 0.0
    # RULER scores the output as it comes (its evaluate.py strips nothing but control characters)
    assert s.score_task(record, protocol.get("ruler").prediction("<think>it is 42</think>I do not know")) == 1.0
    mrcr = {"metric": "mrcr", "answers": ["pfxpoem"], "details": {"random_string_to_prepend": "pfx"}}
    assert s.score_task(mrcr, "pfxpoem") == 1.0
    lb = {"metric": "longbench", "answers": ["Paragraph 2"], "details": {"dataset": "passage_retrieval_en"}}
    assert s.score_task(lb, "Paragraph 2") == 1.0
