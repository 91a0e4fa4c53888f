//! Fault injection for the fake model server: every way a model request fails in the wild,
//! a seeded plan of faults per run, and the outcome the runtime must reach for that plan
//! (so a soak test can predict each run's exit code instead of accepting any).

use crate::Reply;
use crate::sse::{self, Quirks};
use std::time::Duration;

/// One reply the fake server gives to one model request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `retry-after: 0`.
    TooManyRequests,
    /// 500.
    ServerError,
    /// 503.
    Unavailable,
    /// The connection closes without an answer.
    Reset,
    /// No byte for longer than the client's timeout.
    Stall,
    /// The stream streams part of the answer, then ends before its final chunk and `[DONE]`.
    CutBeforeDone,
    /// The stream ends in the middle of an event (the connection closes normally).
    CutMidEvent,
    /// One chunk of the stream is not JSON.
    GarbledChunk,
    /// 200 with an empty body.
    EmptyBody,
    /// 400: a well-formed error the server means; not retried.
    BadRequest,
    /// A complete reply whose tool call has invalid JSON arguments: not a model failure, the
    /// model is told and asked again.
    BadToolArguments,
}

impl Fault {
    pub const ALL: [Fault; 11] = [
        Fault::TooManyRequests,
        Fault::ServerError,
        Fault::Unavailable,
        Fault::Reset,
        Fault::Stall,
        Fault::CutBeforeDone,
        Fault::CutMidEvent,
        Fault::GarbledChunk,
        Fault::EmptyBody,
        Fault::BadRequest,
        Fault::BadToolArguments,
    ];

    /// Whether the runtime retries this failure (within its attempt budget).
    pub fn retried(self) -> bool {
        !matches!(self, Fault::BadRequest | Fault::BadToolArguments)
    }

    /// The reply for this fault; `answer` is the text a good reply would carry, `n` makes
    /// tool-call arguments distinct, `stall` is how long a stall lasts.
    pub fn reply(self, answer: &str, n: usize, stall: Duration) -> Reply {
        let good = || sse::openai_text(answer, 10, 5, Quirks::NONE);
        match self {
            Fault::TooManyRequests => Reply::error(429, &[("retry-after", "0")]),
            Fault::ServerError => Reply::error(500, &[]),
            Fault::Unavailable => Reply::error(503, &[]),
            Fault::Reset => Reply::Drop,
            Fault::Stall => match Reply::sse(good()) {
                Reply::Http {
                    status,
                    headers,
                    chunks,
                    chunk_delay,
                    ..
                } => Reply::Http {
                    status,
                    headers,
                    chunks,
                    delay: stall,
                    chunk_delay,
                },
                other => other,
            },
            Fault::CutBeforeDone => Reply::sse(sse::openai_text(
                answer,
                10,
                5,
                Quirks {
                    truncate: true,
                    ..Quirks::NONE
                },
            )),
            Fault::CutMidEvent => {
                let mut chunks = good();
                // Keep the first events whole, then half of the next one.
                chunks.truncate(3);
                if let Some(last) = chunks.last_mut() {
                    let half = last.len() / 2;
                    let cut = (0..=half)
                        .rev()
                        .find(|i| last.is_char_boundary(*i))
                        .unwrap_or(0);
                    last.truncate(cut);
                }
                Reply::sse(chunks)
            }
            Fault::GarbledChunk => {
                let mut chunks = good();
                let at = chunks.len() / 2;
                chunks.insert(
                    at,
                    "data: {\"choices\": [{\"delta\": {\"content\": \n\n".into(),
                );
                Reply::sse(chunks)
            }
            Fault::EmptyBody => Reply::sse(Vec::new()),
            Fault::BadRequest => Reply::error(400, &[]),
            Fault::BadToolArguments => {
                let args = format!("{{\"file_path\": \"README-{n}.md\", ");
                Reply::sse(sse::openai_tool_calls(
                    &[(&format!("bad{n}"), "Read", &args)],
                    10,
                    5,
                    Quirks::NONE,
                ))
            }
        }
    }
}

/// What a run's plan must end in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// Exit 0 with exactly this answer.
    Answer(String),
    /// Exit 4: a model failure (retries used up, or a failure not worth retrying).
    ModelFailure,
}

/// One run's replies, in the order the server gives them, and what the run must end in.
#[derive(Debug, Clone)]
pub struct Plan {
    pub faults: Vec<Fault>,
    pub replies: Vec<Reply>,
    pub expected: Expected,
}

/// A small deterministic generator (SplitMix64), so a failing seed can be replayed.
#[derive(Debug, Clone)]
pub struct Seeded(u64);

impl Seeded {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// The plan of run `index`: up to four faults (each kind equally likely, `Stall` rarer since
/// it costs a timeout), then a good answer — cut short where the runtime must give up.
/// `attempts` is the client's attempt budget per request.
pub fn plan(rng: &mut Seeded, index: usize, attempts: u32, stall: Duration) -> Plan {
    let answer = format!("DONE-{index}");
    let count = rng.below(5) as usize;
    let mut drawn = Vec::new();
    let mut bad_args = 0;
    while drawn.len() < count {
        let f = Fault::ALL[rng.below(Fault::ALL.len() as u64) as usize];
        // A stall costs a timeout: keep them to about one run in ten.
        if f == Fault::Stall && rng.below(3) != 0 {
            continue;
        }
        // Two bad calls at most (more would be the loop breaker's business, not this test's).
        if f == Fault::BadToolArguments {
            if bad_args == 2 {
                continue;
            }
            bad_args += 1;
        }
        drawn.push(f);
    }
    // What the runtime does with them, request by request.
    let mut faults = Vec::new();
    let mut attempt = 1;
    for f in drawn {
        faults.push(f);
        if f == Fault::BadRequest {
            return finish(faults, &answer, Expected::ModelFailure, stall);
        }
        if f == Fault::BadToolArguments {
            attempt = 1;
            continue;
        }
        attempt += 1;
        if attempt > attempts {
            return finish(faults, &answer, Expected::ModelFailure, stall);
        }
    }
    finish(faults, &answer, Expected::Answer(answer.clone()), stall)
}

fn finish(faults: Vec<Fault>, answer: &str, expected: Expected, stall: Duration) -> Plan {
    let mut replies: Vec<Reply> = faults
        .iter()
        .enumerate()
        .map(|(n, f)| f.reply(answer, n, stall))
        .collect();
    if matches!(expected, Expected::Answer(_)) {
        replies.push(Reply::sse(sse::openai_text(answer, 10, 5, Quirks::NONE)));
    }
    Plan {
        faults,
        replies,
        expected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_predict_their_outcome() {
        let mut rng = Seeded::new(7);
        let mut kinds = std::collections::BTreeSet::new();
        for i in 0..500 {
            let p = plan(&mut rng, i, 3, Duration::from_millis(10));
            for f in &p.faults {
                kinds.insert(format!("{f:?}"));
            }
            // Three retried failures in a row without a bad call between them: failure.
            let mut run = 0;
            let mut failed = false;
            for f in &p.faults {
                match f {
                    Fault::BadRequest => failed = true,
                    Fault::BadToolArguments => run = 0,
                    _ => {
                        run += 1;
                        failed |= run >= 3;
                    }
                }
            }
            assert_eq!(failed, p.expected == Expected::ModelFailure, "{p:?}");
            assert_eq!(
                p.replies.len(),
                p.faults.len() + usize::from(!failed),
                "{:?}",
                p.faults
            );
        }
        assert_eq!(kinds.len(), Fault::ALL.len(), "every fault kind is drawn");
    }
}
