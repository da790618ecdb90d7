//! Plain-language checks for consultation text: the Flesch reading ease and the
//! Flesch–Kincaid grade of a passage, the reading age it implies, and where it is hard
//! (its longest sentences, its words of three or more syllables).
//!
//! Reading ease = 206.835 − 1.015 × (words per sentence) − 84.6 × (syllables per word)
//! (Flesch, 1948); grade = 0.39 × (words per sentence) + 11.8 × (syllables per word) −
//! 15.59 (Kincaid et al., 1975); reading age = grade + 5, never below 5 (a US school grade
//! is taken at about five years younger than the age of its pupils; very easy text would
//! otherwise get an age below school age). UK public-sector guidance aims for a reading
//! age of 9. Every score is shown rounded to one decimal (halves away from zero), and a
//! passage is above a target when its reading age *as shown* is: 9.04 shows as 9.0 and is
//! not above 9. Syllables are counted by groups of vowels with the usual
//! English corrections (a silent final *e*, *-le*, *-es*, *-ed*), which is what readability
//! tools do; it is right for most words and close for the rest.

/// The default reading age above which text gets a warning.
pub const DEFAULT_TARGET_READING_AGE: f64 = 9.0;

/// How readable a passage is.
#[derive(Clone, Debug, PartialEq)]
pub struct Readability {
    /// Sentences counted.
    pub sentences: usize,
    /// Words counted.
    pub words: usize,
    /// Syllables counted.
    pub syllables: usize,
    /// Flesch reading ease: higher is easier (90–100 very easy, below 30 very hard).
    pub reading_ease: f64,
    /// Flesch–Kincaid grade level.
    pub grade: f64,
    /// Reading age in years (grade + 5, at least 5).
    pub reading_age: f64,
    /// The longest sentences, longest first (at most three), with their word counts.
    pub longest_sentences: Vec<(String, usize)>,
    /// Words of three or more syllables, most syllables first, each once (at most ten).
    pub hard_words: Vec<(String, usize)>,
}

impl Readability {
    /// Whether the passage is above `target` reading age, as shown (rounded to one
    /// decimal): what a reader sees agrees with the flag.
    pub fn above(&self, target: f64) -> bool {
        rounded(self.reading_age) > target
    }
}

/// A score as shown: rounded to one decimal, halves away from zero.
pub fn rounded(score: f64) -> f64 {
    (score * 10.0).round() / 10.0
}

/// Scores `text`; `None` when it has no word.
pub fn score(text: &str) -> Option<Readability> {
    let sentences = sentences(text);
    let mut words = 0;
    let mut syllables = 0;
    let mut hard: Vec<(String, usize)> = Vec::new();
    let mut lengths: Vec<(String, usize)> = Vec::new();
    for sentence in &sentences {
        let in_sentence = words_of(sentence);
        for word in &in_sentence {
            let count = syllable_count(word);
            syllables += count;
            if count >= 3 && !hard.iter().any(|(w, _)| w.eq_ignore_ascii_case(word)) {
                hard.push((word.to_string(), count));
            }
        }
        words += in_sentence.len();
        if !in_sentence.is_empty() {
            lengths.push((sentence.trim().to_owned(), in_sentence.len()));
        }
    }
    if words == 0 {
        return None;
    }
    let sentence_count = lengths.len().max(1);
    let per_sentence = words as f64 / sentence_count as f64;
    let per_word = syllables as f64 / words as f64;
    let reading_ease = 206.835 - 1.015 * per_sentence - 84.6 * per_word;
    let grade = 0.39 * per_sentence + 11.8 * per_word - 15.59;
    lengths.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    lengths.truncate(3);
    hard.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    hard.truncate(10);
    Some(Readability {
        sentences: sentence_count,
        words,
        syllables,
        reading_ease,
        grade,
        reading_age: (grade + 5.0).max(5.0),
        longest_sentences: lengths,
        hard_words: hard,
    })
}

/// Splits text into sentences at `.`, `!`, `?` and line breaks (a full stop between
/// digits, as in 2.5, does not end one).
fn sentences(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let decimal = c == '.'
            && i > 0
            && chars[i - 1].is_ascii_digit()
            && chars.get(i + 1).is_some_and(char::is_ascii_digit);
        if matches!(c, '.' | '!' | '?' | '\n') && !decimal {
            if c != '\n' {
                current.push(c);
            }
            if !current.trim().is_empty() {
                out.push(std::mem::take(&mut current));
            }
            current.clear();
        } else {
            current.push(c);
        }
    }
    if !current.trim().is_empty() {
        out.push(current);
    }
    out
}

/// The words of a sentence: runs of letters, digits and inner apostrophes or hyphens.
fn words_of(sentence: &str) -> Vec<&str> {
    sentence
        .split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’' || c == '-'))
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .collect()
}

/// Syllables in an English word, by vowel groups with the usual corrections; at least
/// one (a number counts as one).
pub fn syllable_count(word: &str) -> usize {
    if word.contains('-') {
        return word
            .split('-')
            .filter(|part| part.chars().any(char::is_alphabetic))
            .map(syllable_count)
            .sum::<usize>()
            .max(1);
    }
    let lower: String = word
        .chars()
        .filter(|c| c.is_alphabetic())
        .flat_map(char::to_lowercase)
        .collect();
    if lower.is_empty() {
        return 1;
    }
    let letters: Vec<char> = lower.chars().collect();
    let vowel = |c: char| matches!(c, 'a' | 'e' | 'i' | 'o' | 'u' | 'y');
    let mut groups = 0;
    let mut previous = false;
    for (i, &c) in letters.iter().enumerate() {
        // A `y` at the start of a word is a consonant (yes, young).
        let is_vowel = vowel(c) && !(c == 'y' && i == 0);
        if is_vowel && !previous {
            groups += 1;
        }
        previous = is_vowel;
    }
    let n = letters.len();
    let ends = |suffix: &str| lower.ends_with(suffix);
    let before = |k: usize| letters.get(n.wrapping_sub(k)).copied();
    if n > 2 && ends("e") && !ends("le") && !ends("ee") && !ends("ye") && groups > 1 {
        // A silent final e: make, more (but not the, be, free).
        groups -= 1;
    } else if n > 3 && ends("le") && before(3).is_some_and(vowel) && groups > 1 {
        // -ale, -ile, -ole: the e is silent (whale, mile).
        groups -= 1;
    }
    if n > 3 && (ends("es") || ends("ed")) && groups > 1 {
        // Silent in makes, named; sounded after t/d (wanted) or s/x/z/ch/sh (buses).
        let c = before(3).unwrap_or(' ');
        let sounded = if ends("ed") {
            matches!(c, 't' | 'd')
        } else {
            matches!(c, 's' | 'x' | 'z')
                || lower[..n - 2].ends_with("ch")
                || lower[..n - 2].ends_with("sh")
                || lower[..n - 2].ends_with("ce")
                || lower[..n - 2].ends_with("ge")
        };
        if !sounded && before(3).is_some_and(|c| !vowel(c)) {
            groups -= 1;
        }
    }
    groups.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_passage_is_above_its_target_only_when_its_reading_age_as_shown_is() {
        let at = |age: f64| Readability {
            sentences: 1,
            words: 10,
            syllables: 14,
            reading_ease: 70.0,
            grade: age - 5.0,
            reading_age: age,
            longest_sentences: Vec::new(),
            hard_words: Vec::new(),
        };
        assert_eq!(rounded(9.04), 9.0);
        assert!(!at(9.04).above(9.0), "shown as 9.0, not above 9");
        assert!(at(9.05).above(9.0), "shown as 9.1");
        assert!(!at(9.0).above(9.0));
        // Very easy text is floored at five.
        let easy = score("The cat sat. The dog ran.").unwrap();
        assert!(
            easy.grade + 5.0 < 5.0 && easy.reading_age == 5.0,
            "{easy:?}"
        );
    }

    #[test]
    fn the_published_worked_examples_score_as_published() {
        // "The cat sat on the mat.": 6 words, 6 syllables, reading ease 116.1.
        let cat = score("The cat sat on the mat.").unwrap();
        assert_eq!((cat.sentences, cat.words, cat.syllables), (1, 6, 6));
        assert!((cat.reading_ease - 116.145).abs() < 1e-9);
        // The platypus sentence of the Flesch–Kincaid literature: 13 words, 24 syllables,
        // reading ease 37.5 and grade 11.3.
        let platypus = score(
            "The Australian platypus is seemingly a hybrid of a mammal and reptilian creature.",
        )
        .unwrap();
        assert_eq!((platypus.words, platypus.syllables), (13, 24));
        assert!((platypus.reading_ease - 37.5).abs() < 0.05, "{platypus:?}");
        assert!((platypus.grade - 11.3).abs() < 0.05);
        assert!((platypus.reading_age - 16.3).abs() < 0.05);
        assert!(platypus.above(DEFAULT_TARGET_READING_AGE));
        assert!(!cat.above(DEFAULT_TARGET_READING_AGE));
    }

    #[test]
    fn syllables_follow_the_usual_english_rules() {
        for (word, expected) in [
            ("the", 1),
            ("make", 1),
            ("whale", 1),
            ("table", 2),
            ("named", 1),
            ("wanted", 2),
            ("makes", 1),
            ("buses", 2),
            ("council", 2),
            ("consultation", 4),
            ("community", 4),
            ("yes", 1),
            ("happy", 2),
            ("free", 1),
            ("anti-social", 4),
            ("Corporate", 3),
        ] {
            assert_eq!(syllable_count(word), expected, "{word}");
        }
    }

    #[test]
    fn the_hard_parts_are_pointed_out() {
        let text = "We want your views. Please tell us what you think about the \
                    implementation of the neighbourhood regeneration programme and its \
                    consequences for accessibility! Thank you.";
        let scored = score(text).unwrap();
        assert_eq!(scored.sentences, 3);
        assert!(scored.longest_sentences[0].0.starts_with("Please tell us"));
        assert_eq!(scored.longest_sentences[0].1, 19);
        let hard: Vec<&str> = scored.hard_words.iter().map(|(w, _)| w.as_str()).collect();
        assert_eq!(hard[0], "accessibility");
        assert!(hard.contains(&"implementation") && hard.contains(&"regeneration"));
        assert!(!hard.contains(&"views"));
        // Decimals do not end a sentence; an empty text has no score.
        assert_eq!(
            score("Rents rose 2.5 per cent this year.")
                .unwrap()
                .sentences,
            1
        );
        assert!(score("  ... ").is_none());
    }
}
