"""The course's local OpenAI-compatible server, through the official openai client (offline)."""

import os
import socket
from pathlib import Path

import openai
import pytest

from llmcourse.serving import ServingError, chat, complete, local_server

KEY = "sk-test-0123456789abcdef"  # the key the test server requires
RATE = 60  # requests a minute allowed: more than the tests below send, bar the 429 test
QUESTION = [{"role": "user", "content": "What colour is a grape?"}]
STORY = "Once upon a time, there was a little cat named Tom."


def _server_pids() -> list[int]:
    """Processes whose command line is the course's server started by this process (its
    ``--parent-pid``; local_server hands the server a bound socket, so the port is not there)."""
    mine = [b"--parent-pid", str(os.getpid()).encode()]
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"llmcourse.serving" in cmdline and any(cmdline[i : i + 2] == mine for i in range(len(cmdline))):
            pids.append(int(entry.name))
    return pids


def _port_of(client) -> int:
    return int(str(client.base_url).split(":")[-1].split("/")[0])


@pytest.fixture(scope="module")
def server():
    # local_server raises ServingError unless the server answers within `timeout` seconds
    with local_server("course-gpt", api_key=KEY, rate_limit=RATE, timeout=90) as (client, model):
        port = _port_of(client)
        yield client, model, port
    assert not _server_pids(), "a server process is left after local_server() returned"
    with socket.socket() as s, pytest.raises(OSError):
        s.settimeout(1)
        s.connect(("127.0.0.1", port))


def _complete(server, prompt, **kw):
    client, model, *_ = server
    kw.setdefault("max_tokens", 40)
    return client.completions.create(model=model, prompt=prompt, **kw)


def test_starts_quickly_and_names_the_model(server):
    client, model, port = server
    assert model == "course-gpt"
    assert [m.id for m in client.models.list().data] == ["course-gpt"]
    assert _server_pids(), "the server runs as a process of its own"


def test_greedy_is_deterministic_and_answers_in_the_corpus_format(server):
    client, model, *_ = server
    first = chat(client, model, QUESTION, temperature=0, max_tokens=20, seed=1)
    again = chat(client, model, QUESTION, temperature=0, max_tokens=20, seed=2)
    assert first == again and first.strip()
    assert "\n" not in first  # the assistant's turn ends at the end of its line
    assert (
        complete(client, model, "Question: What colour is a grape?\nAnswer:", temperature=0, stop="\n")
        == " A grape is purple."
    )


def test_a_seed_reproduces_a_sample_and_other_seeds_differ(server):
    a = _complete(server, STORY, temperature=1.0, seed=7).choices[0].text
    b = _complete(server, STORY, temperature=1.0, seed=7).choices[0].text
    others = {_complete(server, STORY, temperature=1.0, seed=s).choices[0].text for s in (8, 9)}
    assert a == b
    assert others - {a}, "different seeds gave the same text"


def test_sampling_controls_change_the_output_as_they_should(server):
    greedy = _complete(server, STORY, temperature=0).choices[0].text
    # a tiny nucleus keeps only the most likely token: greedy decoding, whatever the seed
    assert _complete(server, STORY, temperature=1.0, top_p=0.01, seed=3).choices[0].text == greedy
    # a high temperature strays from the greedy text
    hot = _complete(server, STORY, temperature=1.8, seed=3).choices[0].text
    assert hot != greedy
    # penalties against repeated tokens: fewer repeats than greedy decoding's
    penalised = (
        _complete(server, STORY, temperature=0.01, seed=3, presence_penalty=2.0, frequency_penalty=2.0).choices[0].text
    )
    assert penalised != greedy
    assert len(set(penalised.split())) / len(penalised.split()) > len(set(greedy.split())) / len(greedy.split())
    # max_tokens bounds the completion and says so
    short = _complete(server, STORY, temperature=0, max_tokens=3)
    assert short.usage.completion_tokens <= 3 and short.choices[0].finish_reason == "length"


def test_stop_strings_are_not_included(server):
    greedy = _complete(server, STORY, temperature=0).choices[0].text
    word = greedy.split()[3]
    cut = _complete(server, STORY, temperature=0, stop=[word, "zzz"])
    assert cut.choices[0].text == greedy[: greedy.index(word)]
    assert cut.choices[0].finish_reason == "stop"
    client, model, *_ = server
    answer = chat(client, model, QUESTION, temperature=0, max_tokens=20)
    assert (
        chat(client, model, QUESTION, temperature=0, max_tokens=20, stop=answer.split()[1])
        == answer[: answer.index(answer.split()[1])]
    )


def test_n_choices(server):
    client, model, *_ = server
    texts = chat(client, model, QUESTION, temperature=1.0, n=3, seed=0, max_tokens=15)
    assert isinstance(texts, list) and len(texts) == 3
    assert all(isinstance(t, str) for t in texts)


def test_streaming_assembles_the_same_text(server):
    client, model, *_ = server
    for kw in ({"temperature": 0}, {"temperature": 1.0, "seed": 5}):
        whole = chat(client, model, QUESTION, max_tokens=20, **kw)
        stream = client.chat.completions.create(model=model, messages=QUESTION, max_tokens=20, stream=True, **kw)
        pieces = [c.choices[0].delta.content or "" for c in stream if c.choices]
        assert "".join(pieces) == whole
        assert len([p for p in pieces if p]) > 1, "streamed in one piece"
    greedy = _complete(server, STORY, temperature=0).choices[0].text
    word = greedy.split()[4]
    stream = _complete(server, STORY, temperature=0, stop=word, stream=True)
    assert "".join(c.choices[0].text for c in stream) == greedy[: greedy.index(word)]


def test_a_wrong_key_is_refused_with_401_and_the_key_never_shown(server):
    client, model, *_ = server
    wrong = openai.OpenAI(base_url=str(client.base_url), api_key="sk-wrong-key-42", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as raised:
        wrong.chat.completions.create(model=model, messages=QUESTION)
    assert raised.value.status_code == 401
    with pytest.raises(ServingError) as err:
        chat(wrong, model, QUESTION)
    message = str(err.value)
    assert message.startswith("401") and "\n" not in message and "OPENAI_API_KEY" in message
    assert "sk-wrong-key-42" not in message and KEY not in message
    assert err.value.__cause__ is None and err.value.__suppress_context__  # no chained traceback


def test_the_key_is_not_on_the_servers_command_line(server):
    pids = _server_pids()
    assert pids
    for pid in pids:
        assert KEY.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()


def test_unknown_model_and_bad_parameters_give_one_line_errors(server):
    client, model, *_ = server
    with pytest.raises(ServingError, match=r"^404: .*'gpt-99'"):
        chat(client, "gpt-99", QUESTION)
    with pytest.raises(ServingError, match=r"^400: "):
        chat(client, model, QUESTION, temperature=5)


def test_timeout_and_a_closed_port_give_one_line_errors(server):
    client, model, *_ = server
    silent = socket.socket()  # accepts connections and never answers: a timeout every time
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    try:
        mute = openai.OpenAI(
            base_url=f"http://127.0.0.1:{silent.getsockname()[1]}/v1", api_key="x", max_retries=0, timeout=0.5
        )
        with pytest.raises(ServingError, match=r"^timeout: .*max_tokens"):
            chat(mute, model, QUESTION, max_tokens=64)
    finally:
        silent.close()
    with socket.socket() as s:  # bound but not listening: refuses connections, and no one else can take it
        s.bind(("127.0.0.1", 0))
        nobody = openai.OpenAI(base_url=f"http://127.0.0.1:{s.getsockname()[1]}/v1", api_key="x", max_retries=0)
        with pytest.raises(ServingError, match=r"^cannot reach .*running") as err:
            chat(nobody, model, QUESTION)
    assert "\n" not in str(err.value)


def test_rate_limit_gives_429(server):
    client, model, *_ = server
    statuses = []
    for _ in range(RATE + 1):
        try:
            client.models.list()
            statuses.append(200)
        except openai.RateLimitError:
            statuses.append(429)
            break
    assert statuses[-1] == 429
    with pytest.raises(ServingError, match=r"^429: .*[Ww]ait"):
        chat(client, model, QUESTION)


@pytest.mark.timeout(120)
def test_a_server_that_cannot_start_says_why(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    # its exit is noticed at once: waiting out the 60 s would raise "did not answer" instead
    with pytest.raises(ServingError, match="exited with code") as err, local_server(str(tmp_path), timeout=60):
        pass
    assert str(tmp_path) in str(err.value)


def test_connect_without_a_key_uses_the_local_server(monkeypatch, tmp_path):
    from llmcourse import serving

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    calls = []

    class Fake:
        def __init__(self, model):
            calls.append(model)

        def __enter__(self):
            return "client", calls[-1]

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(serving, "local_server", Fake)
    with serving.connect(env_file=tmp_path / "missing.env") as (client, model):
        assert (client, model) == ("client", "course-gpt")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    with serving.connect() as (client, model):
        assert model == serving.DEFAULT_API_MODEL and client.api_key == "sk-from-env"
    assert calls == ["course-gpt"]
    assert "sk-from-env" not in repr(client)


def test_connect_picks_the_local_model_only_without_a_key(monkeypatch, tmp_path):
    """Chapter 06 asks for course-chat offline; with a key the API model is used, never a local name."""
    from llmcourse import serving

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    calls = []

    class Fake:
        def __init__(self, model):
            calls.append(model)

        def __enter__(self):
            return "client", calls[-1]

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(serving, "local_server", Fake)
    with serving.connect(env_file=tmp_path / "missing.env", local_model="course-chat") as (_, model):
        assert model == "course-chat"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    with serving.connect(local_model="course-chat") as (_, model):
        assert model == serving.DEFAULT_API_MODEL
    assert calls == ["course-chat"]


def test_the_chapter_never_shows_the_key(monkeypatch, capsys):
    """Chapter 06 reads the key only to say whether there is one; the cell that does so prints no key."""
    import nbformat

    marker = "sk-marker-key-never-printed-0123"
    monkeypatch.setenv("OPENAI_API_KEY", marker)
    nb = nbformat.read(Path(__file__).resolve().parents[1] / "solutions" / "06_prompting.ipynb", as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    uses = [line for source in code for line in source.splitlines() if "OPENAI_API_KEY" in line]
    assert uses and all('bool(os.environ.get("OPENAI_API_KEY"))' in line for line in uses), uses
    cell = next(source for source in code if "load_dotenv()" in source)
    exec(cell.split("start = time.perf_counter()")[0], {"os": os})  # the key check, not the connection
    printed = capsys.readouterr().out
    assert "API key found: True" in printed and marker not in printed
