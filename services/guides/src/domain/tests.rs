use super::*;

fn heading(level: u8, text: &str) -> Block {
    Block {
        text: text.into(),
        heading_level: Some(level),
        page: None,
    }
}

fn paragraph(text: &str) -> Block {
    Block {
        text: text.into(),
        heading_level: None,
        page: None,
    }
}

#[test]
fn headings_begin_sections_and_paragraphs_follow_them() {
    let split = split(&[
        paragraph("Forside"),
        heading(1, "4 Tilknytning"),
        paragraph("Om tilknytning."),
        heading(2, "4.2 Manuel tilknytning"),
        paragraph("Vælg borgeren."),
        paragraph("Tryk Gem."),
    ])
    .unwrap();
    assert_eq!(split.sections.len(), 2);
    let manual = &split.sections[1];
    assert_eq!(manual.number, "4.2");
    assert_eq!(manual.heading, "Manuel tilknytning");
    assert_eq!(
        manual.heading_path,
        ["4 Tilknytning", "4.2 Manuel tilknytning"]
    );
    assert_eq!(manual.level, 2);
    assert_eq!(manual.text, "Vælg borgeren.\n\nTryk Gem.");
    assert_eq!(manual.anchor, "4-2-manuel-tilknytning");
    assert_eq!(split.sections[0].text, "Om tilknytning.");
    assert_eq!(split.unplaced.len(), 1);
    assert_eq!(split.unplaced[0].excerpt, "Forside");
}

#[test]
fn headings_without_numbers_are_counted_from_the_highest_level() {
    // Word numbers headings itself; the text has none, and the top level may be Heading 2.
    let split = split(&[
        heading(2, "Indledning"),
        heading(3, "Formål"),
        heading(3, "Målgruppe"),
        heading(2, "Udbetaling"),
        heading(3, "Udbetaling"),
    ])
    .unwrap();
    let numbers: Vec<_> = split.sections.iter().map(|s| s.number.as_str()).collect();
    assert_eq!(numbers, ["1", "1.1", "1.2", "2", "2.1"]);
    assert_eq!(
        split.sections[4].heading_path,
        ["2 Udbetaling", "2.1 Udbetaling"]
    );
    let anchors: HashSet<_> = split.sections.iter().map(|s| s.anchor.clone()).collect();
    assert_eq!(anchors.len(), 5, "anchors are unique");
}

#[test]
fn a_document_without_headings_is_refused() {
    assert_eq!(
        split(&[paragraph("Bare tekst")]).unwrap_err(),
        SplitError::NoHeadings
    );
}

#[test]
fn anchors_spell_out_danish_letters() {
    assert_eq!(
        slug("5.1 Særlige ydelser på Ørø"),
        "5-1-saerlige-ydelser-paa-oeroe"
    );
    assert_eq!(slug("  ***  "), "");
}

fn earlier(id: &str, number: &str, heading: &str) -> Earlier {
    Earlier {
        section_id: id.into(),
        number: number.into(),
        heading: heading.into(),
    }
}

fn draft(number: &str, heading: &str) -> SectionDraft {
    SectionDraft {
        number: number.into(),
        heading: heading.into(),
        heading_path: vec![],
        level: 1,
        text: String::new(),
        anchor: String::new(),
        page: None,
    }
}

#[test]
fn sections_keep_their_identity_by_heading_then_by_number() {
    let before = [
        earlier("a", "4.1", "Automatisk tilknytning"),
        earlier("b", "4.2", "Manuel tilknytning"),
        earlier("c", "4.3", "Ophør"),
        earlier("d", "4.4", "Gammelt afsnit"),
    ];
    let after = [
        draft("4.1", "Nyt afsnit"),
        draft("4.2", "Automatisk  TILKNYTNING"),
        draft("4.3", "Manuel tilknytning"),
        draft("4.4", "Ophør af tilknytning"),
    ];
    let kept = carry_identities(&before, &after);
    // Renumbered sections keep their ids by heading; a renamed one by its number among those left.
    assert_eq!(
        kept,
        [None, Some("a".into()), Some("b".into()), Some("d".into())]
    );
}

#[test]
fn a_suggestion_asks_for_the_drafts_words_without_syntax() {
    let query = suggestion_query(
        "Udbetaling fejler",
        "Udbetalingen: fejler (igen) i 2025 -x \"AND\"",
    );
    assert_eq!(query, "udbetaling^2 fejler^2 udbetalingen igen and");
}

#[test]
fn deflection_rate_is_answered_over_suggestions() {
    assert_eq!(deflection_rate(0, 0), 0.0);
    assert_eq!(deflection_rate(4, 1), 0.25);
}

#[test]
fn a_personal_id_number_is_placed_without_being_repeated() {
    let document = |blocks: Vec<Block>, other: &str| Document {
        format: crate::documents::Format::Docx,
        pages: 0,
        blocks,
        other_text: other.into(),
    };
    let clean = document(vec![heading(1, "1 Udbetaling"), paragraph("Tekst")], "");
    assert_eq!(no_personal_ids(&clean), Ok(()));
    // In a heading: the heading before it is named, never the one holding the number.
    let in_heading = document(
        vec![
            heading(1, "1 Udbetaling"),
            heading(2, "1.1 Borger 010190-1234"),
        ],
        "",
    );
    let why = no_personal_ids(&in_heading).unwrap_err();
    assert!(why.contains("\"1 Udbetaling\""), "{why}");
    assert!(!why.contains("010190"), "{why}");
    let hidden = document(vec![heading(1, "1 Udbetaling")], "Forfatter: 0101901234");
    assert!(
        no_personal_ids(&hidden)
            .unwrap_err()
            .contains("outside the guide's text")
    );
}
