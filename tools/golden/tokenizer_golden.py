"""Goldens for webdit's umT5 tokenizer (src/model/text/).

Trains two small SentencePiece unigram models with Debian's `spm_train` on a synthetic multilingual
corpus, then tokenizes a few hundred awkward strings the way Wan2.1 does:
HuggingfaceTokenizer(clean='whitespace') from wan/modules/tokenizers.py (its cleaning is imported from
the upstream checkout in WAN_SRC and run as written, with ftfy and regex), then SentencePiece (Debian's
python3-sentencepiece), then what Hugging Face's T5 tokenizer adds for `truncation=True,
max_length=512, add_special_tokens=True`: the text of a special token (</s>, <pad>, <unk>) taken as its
id with the text between tokenized separately, ids cut to 511, EOS appended. Hugging Face itself is
not run (Debian has no transformers): that part is written here from its documented behaviour.

    python3 -m venv --system-site-packages /tmp/golden-venv
    /tmp/golden-venv/bin/pip install ftfy==6.3.1 regex
    WAN_SRC=/path/to/Wan2.1 /tmp/golden-venv/bin/python tools/golden/tokenizer_golden.py test/golden/tokenizer

Writes <out>/spiece.model (byte fallback, nmt_nfkc), <out>/plain/spiece.model (no byte fallback,
nmt_nfkc_cf, no dummy prefix, extra whitespace kept) and <out>/cases.json.
"""

import html
import importlib.util
import json
import os
import random
import subprocess
import sys
import tempfile
import types

import sentencepiece as spm

MAX_LENGTH = 512
SEED = 17


def load_upstream_cleaning():
    """wan/modules/tokenizers.py, loaded as a file (its package imports the whole model) with
    `transformers` stubbed: only the cleaning functions are used."""
    src = os.environ.get('WAN_SRC')
    if not src:
        sys.exit('set WAN_SRC to a Wan2.1 checkout')
    stub = types.ModuleType('transformers')
    stub.AutoTokenizer = None
    sys.modules.setdefault('transformers', stub)
    path = os.path.join(src, 'wan/modules/tokenizers.py')
    spec = importlib.util.spec_from_file_location('wan_tokenizers', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return lambda text: module.whitespace_clean(module.basic_clean(text))


# ---- a synthetic multilingual corpus ---------------------------------------------------------------

WORDS = {
    'en': ('a red circle moving right on black background the video shows cat dog running through forest '
           'under bright sun slowly camera pans across mountain lake water reflection city street night '
           'rain umbrella people walking cinematic lighting close up shot of young woman smiling warm golden '
           'hour ocean waves crashing beach sand birds flying sky clouds drifting old man reading book cozy '
           'room fireplace snow falling quietly village children playing football field high quality detailed '
           'realistic style anime painting watercolor neon lights futuristic robot dancing stage').split(),
    'fr': 'le chat noir traverse la rue pendant que les enfants jouent près de la fenêtre éclairée été château'.split(),
    'de': 'ein großer Hund läuft über die grüne Wiese während die Sonne untergeht Straße Mädchen schön'.split(),
    'es': 'un niño pequeño corre por la playa mientras el sol brilla sobre el océano mañana corazón'.split(),
    'vi': 'một con mèo đang ngủ trên chiếc ghế gỗ bên cửa sổ trời mưa nhẹ'.split(),
    'ru': 'красный круг движется вправо на чёрном фоне кошка спит на окне дождь идёт весь день'.split(),
    'uk': 'їжак біжить через ліс і шукає яблука під деревом'.split(),
    'el': 'ένας κόκκινος κύκλος κινείται δεξιά στον ουρανό η θάλασσα είναι ήρεμη'.split(),
    'ar': 'دائرة حمراء تتحرك إلى اليمين على خلفية سوداء القطة تنام بجانب النافذة'.split(),
    'he': 'עיגול אדום זז ימינה על רקע שחור החתול ישן ליד החלון'.split(),
    'hi': 'एक लाल वृत्त काले पृष्ठभूमि पर दाईं ओर चल रहा है बिल्ली खिड़की के पास सो रही है'.split(),
    'th': 'วงกลม สีแดง เคลื่อนที่ ไปทางขวา บน พื้นหลัง สีดำ แมว นอน'.split(),
    'ja': '赤い 円が 黒い 背景の 上を 右へ 動く ねこが 窓の そばで 眠っている カメラ ゆっくり'.split(),
    'ko': '빨간 원이 검은 배경 위에서 오른쪽으로 움직인다 고양이가 창가에서 잔다'.split(),
    'zh': '一个 红色 圆圈 在 黑色 背景 上 向右 移动 小猫 在 窗边 睡觉 镜头 缓慢 推进 高清 电影感'.split(),
}
EMOJI = ['😀', '🐱', '🔴', '➡️', '🌊', '🎬', '👍🏽', '👩‍💻', '🇯🇵', '❤️', '✨', '🚀']


def corpus_sentence(rand):
    lang = rand.choice(list(WORDS))
    words = [rand.choice(WORDS[lang]) for _ in range(rand.randint(3, 14))]
    if lang in ('zh', 'ja') and rand.random() < 0.5:
        # extra Han characters, some rare enough to fall out of the vocabulary
        words.append(''.join(chr(0x4E00 + int(rand.random() ** 3 * 3000)) for _ in range(rand.randint(1, 6))))
    if rand.random() < 0.15:
        words.insert(rand.randrange(len(words) + 1), rand.choice(EMOJI))
    if rand.random() < 0.2:
        words.append(str(rand.randint(0, 100000)))
    sep = '' if lang == 'zh' and rand.random() < 0.5 else ' '
    return sep.join(words) + rand.choice(['.', '!', '?', '', ',', '。'])


def train(corpus_path, prefix, extra):
    args = ['spm_train', f'--input={corpus_path}', f'--model_prefix={prefix}', '--model_type=unigram',
            '--pad_id=0', '--eos_id=1', '--unk_id=2', '--bos_id=-1', '--num_threads=1',
            '--minloglevel=2', *extra]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)


# ---- the strings to tokenize -----------------------------------------------------------------------

HANDWRITTEN = [
    '', ' ', '\t\n ', 'a', 'A red circle moving right on a black background',
    'a red circle moving right on a black background', '  leading and trailing spaces  ',
    'tabs\tand\nnewlines\r\nand\rcarriage returns', 'no\u00a0break\u00a0space', 'ideographic\u3000space',
    'zero\u200bwidth\u200cnon\u200djoiner', 'soft\u00adhyphen', 'byte\ufefforder mark', '\ufeffBOM first',
    'e\u0301 combining acute, n\u0303, a\u0308\u0304', 'Ｆｕｌｌ－ｗｉｄｔｈ　ｆｏｒｍｓ　１２３！', 'ﾊﾝｶｸ ｶﾀｶﾅ',
    'ligatures: ﬁne ﬂow ﬀ ﬃ ĳ', '“curly” ‘quotes’ and ‚low‘ ones', 'em—dash en–dash … ellipsis',
    'Tom &amp; Jerry', '&lt;b&gt;bold&lt;/b&gt;', '&amp;amp;lt; triple escaped', '5 &gt; 3 but 2 < 4 &amp; more',
    '&#39;single&#39; &#x27;hex&#x27; &#X41;', '&nbsp;non&nbsp;breaking&nbsp;', '&copy 2024 &reg; &trade;',
    '&notit; &notin; &not', 'caf&eacute; na&iuml;ve &EACUTE;T&Eacute;', '&unknownentity; & ;', '&#128512; emoji ref',
    '&#0; &#1; &#128; &#xD800; &#x110000; &#65534;', 'a&#10;b&#9;c', '&amp;nbsp;double',
    'C1 \x80 euro \x93quoted\x94 \x85 next line', 'control \x00\x01\x07\x1b chars \x7f', '\x1b[31mred\x1b[0m text',
    'line\u2028separator\u2029paragraph', 'emoji 😀🐱🔴➡️ 👍🏽 👩‍💻 🇯🇵 🏴󠁧󠁢󠁷󠁬󠁳󠁿 ❤️', 'variation ☺︎ ☺️',
    '一个红色圆圈在黑色背景上向右移动', '赤い円が黒い背景の上を右へ動く', '빨간 원이 검은 배경 위에서 오른쪽으로 움직인다',
    'دائرة حمراء تتحرك إلى اليمين', 'עיגול אדום זז ימינה', 'एक लाल वृत्त', 'วงกลมสีแดงเคลื่อนที่',
    'красный круг движется вправо', 'ένας κόκκινος κύκλος', 'Một con mèo đang ngủ', 'ᄀᄁᄂ jamo ㄱㄴㄷ',
    '鿕鿖 𠀀𠀁 𪚥 rare Han and extension B', '\ue000 private use \U000f0000', 'replacement \ufffd char',
    'digits 0123456789 ٠١٢٣ ०१२३ ①②③ ½ ²', 'ＡＢＣ ａｂｃ ｶ ㌀ ㍻ ℡ ™ Ⅻ', 'math 𝐀𝐁𝐂 𝒜 ℝ ∑ √ ∞ ≠',
    'UPPER lower MiXeD', 'underscores_and-dashes/slashes\\back', 'url https://example.com/a?b=c&d=e#f',
    'punctuation!!! ??? ... ,,, ;;; ::: """', 'very' + 'long' * 40 + 'word', 'x' * 300, '😀' * 30,
    '<extra_id_0> user defined <ctrl> control </s> eos <pad> <unk>', '▁already▁escaped▁spaces', '<0x41> byte piece text',
    '</s>', 'a</s>b', '<pad><pad> x', 'x <unk>y', '<<unk>> </s </s>>', '&lt;/s&gt; escaped eos',
]

# Hugging Face's T5 tokenizer matches its special tokens in the text before SentencePiece sees it,
# and tokenizes the text between them separately.
SPECIAL_TOKENS = ['</s>', '<pad>', '<unk>']


def hf_encode(sp, text):
    ids, start, i = [], 0, 0
    while i < len(text):
        match = next((t for t in sorted(SPECIAL_TOKENS, key=len, reverse=True) if text.startswith(t, i)), None)
        if match is None:
            i += 1
            continue
        ids += sp.encode(text[start:i]) + [sp.piece_to_id(match)]
        i += len(match)
        start = i
    return ids + sp.encode(text[start:])


def random_case(rand, vocab_words):
    parts = []
    for _ in range(rand.randint(1, 12)):
        r = rand.random()
        if r < 0.55:
            parts.append(rand.choice(vocab_words))
        elif r < 0.65:
            parts.append(rand.choice(EMOJI))
        elif r < 0.72:
            parts.append(rand.choice(['&amp;', '&lt;', '&gt;', '&quot;', '&#39;', '&nbsp;', '&eacute;', '&amp;amp;', '&hellip;', '&mdash;']))
        elif r < 0.8:
            parts.append(chr(rand.choice([0x4E00 + rand.randrange(20000), 0xAC00 + rand.randrange(11000), 0x0600 + rand.randrange(200),
                                          0x0400 + rand.randrange(256), 0x0900 + rand.randrange(128), 0x1F300 + rand.randrange(700)])))
        elif r < 0.86:
            parts.append(rand.choice(['ﬁ', 'Ｗ', '１', '“', '”', '’', '…', 'é', 'e\u0301', 'ß', 'İ', 'Å', 'ｶ', '㌀', '½']))
        else:
            parts.append(str(rand.randint(0, 99999)))
    text = ''
    for p in parts:
        text += p + rand.choice([' ', ' ', ' ', '', '  ', '\t', '\n', '\u00a0', '\u3000', '\u200b', ' \r\n '])
    return text


def long_prompt(rand, vocab_words):
    words = [rand.choice(vocab_words) for _ in range(900)]
    return ' '.join(words)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else 'test/golden/tokenizer'
    clean = load_upstream_cleaning()
    rand = random.Random(SEED)
    os.makedirs(os.path.join(out, 'plain'), exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, 'corpus.txt')
        with open(corpus, 'w', encoding='utf-8') as f:
            for _ in range(30000):
                f.write(corpus_sentence(rand) + '\n')
        train(corpus, os.path.join(tmp, 'fallback'), [
            '--vocab_size=3000', '--normalization_rule_name=nmt_nfkc', '--byte_fallback=true',
            '--character_coverage=0.995', '--user_defined_symbols=<extra_id_0>,<extra_id_1>,☺,Ｗ',
            '--control_symbols=<ctrl>'])
        train(corpus, os.path.join(tmp, 'plain'), [
            '--vocab_size=1500', '--normalization_rule_name=nmt_nfkc_cf', '--byte_fallback=false',
            '--character_coverage=0.98', '--add_dummy_prefix=false', '--remove_extra_whitespaces=false',
            '--user_defined_symbols=<extra_id_0>,ab'])
        for name, dest in (('fallback', 'spiece.model'), ('plain', 'plain/spiece.model')):
            with open(os.path.join(tmp, f'{name}.model'), 'rb') as src, open(os.path.join(out, dest), 'wb') as dst:
                dst.write(src.read())

    models = {'fallback': spm.SentencePieceProcessor(model_file=os.path.join(out, 'spiece.model')),
              'plain': spm.SentencePieceProcessor(model_file=os.path.join(out, 'plain/spiece.model'))}
    eos = models['fallback'].piece_to_id('</s>')
    assert eos == 1

    vocab_words = sorted({w for ws in WORDS.values() for w in ws})
    texts = list(HANDWRITTEN)
    texts += [random_case(rand, vocab_words) for _ in range(320)]
    texts.append(long_prompt(rand, vocab_words))

    cases = []
    for text in texts:
        cleaned = clean(text)
        ids = hf_encode(models['fallback'], cleaned)
        cases.append({
            'text': text,
            'cleaned': cleaned,
            # Hugging Face T5: truncation=True, max_length=512 keeps 511 ids, then EOS
            'input_ids': ids[:MAX_LENGTH - 1] + [eos],
            # SentencePiece alone on the raw text (no cleaning): the normalizer's whitespace handling
            'raw_ids': models['fallback'].encode(text),
            'plain_raw_ids': models['plain'].encode(text),
        })
    assert any(len(c['input_ids']) == MAX_LENGTH and len(hf_encode(models['fallback'], c['cleaned'])) > MAX_LENGTH for c in cases)

    # Python's html.unescape on every HTML5 entity name, with and without ';' and upper-cased
    names = sorted(html.entities.html5)
    entity_text = ' '.join(f'&{n} &{n.rstrip(";")}x &{n.upper()}' for n in names)
    import regex
    doc = {
        'sentencepiece': spm.__version__,
        'max_length': MAX_LENGTH,
        'eos_id': eos,
        'cases': cases,
        'html_unescape': {'text': entity_text, 'unescaped': html.unescape(entity_text)},
        # which code points `\s` (the regex module, as tokenizers.py uses it) and str.isspace() match
        'regex_whitespace': [c for c in range(0x110000) if regex.match(r'\s', chr(c))],
        'python_isspace': [c for c in range(0x110000) if chr(c).isspace()],
    }
    with open(os.path.join(out, 'cases.json'), 'w', encoding='utf-8') as f:
        json.dump(doc, f, ensure_ascii=False, separators=(',', ':'))
    print(f'{len(cases)} cases; vocab sizes {models["fallback"].get_piece_size()} and {models["plain"].get_piece_size()}')


if __name__ == '__main__':
    main()
