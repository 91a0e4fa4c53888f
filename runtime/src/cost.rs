//! Cost accounting: USD from token usage and a price table (USD per million tokens).
//!
//! Defaults cover common hosted models; `[prices."<model id>"]` in agentops.toml adds or
//! overrides entries. A model id matches an entry exactly or by the longest prefix
//! (`claude-sonnet-4-5-20250929` uses `claude-sonnet-4-5`). Unpriced models (a local server)
//! cost nothing, and a run says so once.

use crate::config::Price;
use crate::model::Usage;
use std::collections::BTreeMap;

/// List prices in USD per million tokens (input, output), November 2026.
const DEFAULT_PRICES: &[(&str, f64, f64)] = &[
    ("claude-opus-4", 15.0, 75.0),
    ("claude-sonnet-4", 3.0, 15.0),
    ("claude-haiku-4", 1.0, 5.0),
    ("claude-3-5-haiku", 0.8, 4.0),
    ("gpt-4o-mini", 0.15, 0.6),
    ("gpt-4o", 2.5, 10.0),
    ("gpt-4.1-mini", 0.4, 1.6),
    ("gpt-4.1", 2.0, 8.0),
];

#[derive(Debug, Clone, Default)]
pub struct PriceTable {
    prices: BTreeMap<String, Price>,
}

impl PriceTable {
    pub fn new(configured: &BTreeMap<String, Price>) -> Self {
        let mut prices: BTreeMap<String, Price> = DEFAULT_PRICES
            .iter()
            .map(|(id, input, output)| {
                (
                    id.to_string(),
                    Price {
                        input: *input,
                        output: *output,
                    },
                )
            })
            .collect();
        prices.extend(configured.iter().map(|(k, v)| (k.clone(), *v)));
        Self { prices }
    }

    pub fn price(&self, model: &str) -> Option<Price> {
        if let Some(p) = self.prices.get(model) {
            return Some(*p);
        }
        self.prices
            .iter()
            .filter(|(id, _)| model.starts_with(id.as_str()))
            .max_by_key(|(id, _)| id.len())
            .map(|(_, p)| *p)
    }

    /// USD for `usage` on `model`; `None` when the model has no price.
    pub fn cost(&self, model: &str, usage: Usage) -> Option<f64> {
        self.price(model).map(|p| {
            (usage.input_tokens as f64 * p.input + usage.output_tokens as f64 * p.output)
                / 1_000_000.0
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_prefix_and_configured_prices() {
        let mut configured = BTreeMap::new();
        configured.insert(
            "local-qwen".to_string(),
            Price {
                input: 0.0,
                output: 0.0,
            },
        );
        configured.insert(
            "gpt-4o".to_string(),
            Price {
                input: 5.0,
                output: 20.0,
            },
        );
        let t = PriceTable::new(&configured);
        let usage = Usage {
            input_tokens: 1_000_000,
            output_tokens: 100_000,
        };
        assert_eq!(t.cost("claude-sonnet-4-5-20250929", usage), Some(3.0 + 1.5));
        assert_eq!(t.cost("gpt-4o-mini-2024", usage), Some(0.15 + 0.06));
        assert_eq!(t.cost("gpt-4o", usage), Some(5.0 + 2.0));
        assert_eq!(t.cost("local-qwen", usage), Some(0.0));
        assert_eq!(t.cost("qwen2.5-coder", usage), None);
    }
}
