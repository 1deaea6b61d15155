//! `parse_error_body` on the corpus the TS port (`js/src/http.ts` `readEnvelope`) is held to
//! as well (`tests/unit/error-envelope.test.mjs`): one file of bodies and expected readings,
//! so the two implementations agree by construction of the tests.

use kalam_consumer_core::parse_error_body;
use serde::Deserialize;

const CORPUS: &str = include_str!("../../../tests/fixtures/error-envelopes.json");

#[derive(Deserialize)]
struct Corpus {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    body: String,
    expected: Expected,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    code: Option<String>,
    message: Option<String>,
}

#[test]
fn the_corpus_is_read_as_it_says() {
    let corpus: Corpus = serde_json::from_str(CORPUS).expect("the corpus is JSON");
    assert!(
        corpus.cases.len() > 100,
        "the corpus has its generated cases"
    );
    for case in corpus.cases {
        let got = parse_error_body(&case.body);
        assert_eq!(
            (got.code.as_deref(), got.message.as_deref()),
            (
                case.expected.code.as_deref(),
                case.expected.message.as_deref()
            ),
            "{:?}",
            case.body
        );
    }
}
