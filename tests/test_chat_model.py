"""course-chat, the bundled chat model of chapter 06: its folder, its template, its server, its training script."""

import json
import random

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2LMHeadModel

from llmcourse import chat_model, data, models
from llmcourse.finetune import IGNORE
from llmcourse.serving import chat, local_server

PATH = models.path_of("course-chat")
MESSAGES = [
    {"role": "system", "content": "Spell the word you are given."},
    {"role": "user", "content": "cat"},
    {"role": "assistant", "content": "c-a-t"},
    {"role": "user", "content": "dog"},
]


@pytest.fixture(scope="module")
def loaded():
    return models.load("course-chat", device="cpu")


def test_loads_offline_with_course_gpts_size_and_tokenizer(loaded):
    model, tokenizer = loaded
    base = AutoModelForCausalLM.from_pretrained(models.path_of("course-gpt"))
    assert isinstance(model, GPT2LMHeadModel) and not model.training
    assert model.config.to_dict() | {"_name_or_path": ""} == base.config.to_dict() | {"_name_or_path": ""}
    assert (PATH / "tokenizer.json").read_text() == (models.path_of("course-gpt") / "tokenizer.json").read_text()
    assert not torch.equal(model.transformer.h[0].attn.c_attn.weight, base.transformer.h[0].attn.c_attn.weight)


def test_checkpoint_is_small_and_complete():
    names = {p.name for p in PATH.iterdir()}
    needed = {"model.safetensors", "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"}
    assert needed | {"chat_template.jinja", "README.md", "metrics.json"} <= names
    assert sum(p.stat().st_size for p in PATH.iterdir()) < 25e6


def test_the_model_card_gives_the_command_and_the_scores():
    card = (PATH / "README.md").read_text()
    metrics = json.loads((PATH / "metrics.json").read_text())
    assert chat_model.COMMAND in card and f"{metrics['config']['steps']} steps" in card
    for shots, accuracy in metrics["scores"]["icl"].items():
        assert f"{shots}-shot {100 * accuracy:.0f}%" in card


def test_apply_chat_template_reads_its_template():
    tokenizer = AutoTokenizer.from_pretrained(PATH)
    text = tokenizer.apply_chat_template(MESSAGES, add_generation_prompt=True, tokenize=False)
    assert text == "System: Spell the word you are given.\nUser: cat\nAssistant: c-a-t\nUser: dog\nAssistant:"
    assert text == chat_model.render(MESSAGES) + "Assistant:"


def test_training_labels_cover_the_assistants_lines_only(loaded):
    _, tokenizer = loaded
    conversation = chat_model._conversation(
        "Spell the word you are given.", [("cat", "c-a-t"), ("dog", "d-o-g")], "icl"
    )
    ids, labels = chat_model.encode(tokenizer, conversation)
    trained = tokenizer.decode([t for t in labels if t != IGNORE])
    assert trained == " d-o-g\n" + tokenizer.eos_token
    everything = chat_model.Conversation(conversation.messages, "icl", train_all_turns=True)
    assert tokenizer.decode([t for t in chat_model.encode(tokenizer, everything)[1] if t != IGNORE]).split() == [
        "c-a-t",
        "d-o-g",
        tokenizer.eos_token,
    ]


def test_packing_keeps_conversations_whole():
    rows = [([1] * 5, [1] * 5), ([2] * 4, [IGNORE] * 4), ([3] * 3, [3] * 3)]
    ids, labels = chat_model.pack(rows, length=8, eot=0)
    assert ids.tolist() == [[1, 1, 1, 1, 1, 3, 3, 3], [2, 2, 2, 2, 0, 0, 0, 0]]
    assert labels[1].tolist() == [IGNORE] * 8


def test_the_grammar_data_has_known_answers():
    rng = random.Random(0)
    asked = {True: set(), False: set()}
    for held_out in [True, False] * 40:
        question, (spelling, pick), letter = chat_model.letter_question(rng, held_out)
        position, word = question.removeprefix("What is the ").removesuffix("?").split(" letter of ")
        assert word in data.SPELLING_WORDS and letter == word[chat_model.POSITIONS[position]]
        assert (position == chat_model.held_out_position(word)) == held_out
        assert spelling == f"Spell the word {word}: {'-'.join(word)}."
        assert pick == f"The {position} letter is '{letter}'."
        assert chat_model.final_word(" ".join([spelling, pick])) == letter == chat_model.final_word(f"'{letter}'")
        asked[held_out].add(question)
    assert not asked[True] & asked[False]  # the test questions are never training questions
    examples, (query, answer) = chat_model.icl_items("spell", 4, rng)
    assert len(examples) == 4 and query not in dict(examples) and answer == "-".join(query)
    facts = chat_model.story_facts(
        "Once upon a time, there was a brave fox named Emma. She lived in a cozy cabin near the lake. "
        "Every day, she liked to read books.\n\nOne day, ..."
    )
    assert (facts.name, facts.who, facts.home, facts.activity) == (
        "Emma",
        "brave fox",
        "a cozy cabin near the lake",
        "read books",
    )


def test_the_local_server_answers_with_it(loaded):
    """The server renders the same template and decodes greedily: its answers are the in-process ones."""
    model, tokenizer = loaded
    questions = [MESSAGES, [{"role": "user", "content": "What is the plural of fox?"}]]
    expected = chat_model.reply(model, tokenizer, questions, max_new_tokens=16)
    with local_server("course-chat") as (client, name):
        assert name == "course-chat"
        answers = [chat(client, name, messages, temperature=0, max_tokens=16) for messages in questions]
    assert answers == expected and all(answers)


def test_a_scaled_down_training_run_writes_a_loadable_folder(tmp_path):
    chat_model.main(["--steps", "2", "--batch-size", "4", "--eval-items", "2", "--out-dir", str(tmp_path)])
    model, tokenizer = models.load(str(tmp_path), device="cpu")
    assert isinstance(model, GPT2LMHeadModel)
    assert "--steps 2" in (tmp_path / "README.md").read_text()
    assert len(json.loads((tmp_path / "metrics.json").read_text())["losses"]) == 2
    assert tokenizer.apply_chat_template(MESSAGES, add_generation_prompt=True, tokenize=False).endswith("Assistant:")
