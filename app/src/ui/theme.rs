//! Light and dark themes: the switch, and the browser side of it. The choice is remembered in
//! localStorage and applied before the first paint by the shell's inline script (see
//! [`super::shell`]); without one, the system preference decides.

use leptos::prelude::*;

/// Light/dark switch. Defaults to the system preference; a choice is remembered in
/// localStorage and applied before first paint by the shell's inline script.
#[component]
pub(super) fn ThemeToggle() -> impl IntoView {
    // None until hydrated: the server cannot know the visitor's theme, so it renders neutral.
    // Shared with the canvases, which draw in the theme's colours.
    let dark = super::canvas::dark_theme();
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| dark.set(Some(theme_is_dark())));
    let toggle = move |_| {
        let next = !dark.get_untracked().unwrap_or(false);
        dark.set(Some(next));
        #[cfg(feature = "hydrate")]
        set_theme(if next { "dark" } else { "light" });
    };
    view! {
        <button
            type="button"
            class="btn"
            data-testid="theme-toggle"
            data-theme=move || match dark.get() { Some(true) => "dark", Some(false) => "light", None => "" }
            aria-pressed=move || dark.get().unwrap_or(false).to_string()
            aria-label="Dark theme"
            on:click=toggle
        >
            {move || match dark.get() { Some(true) => "Light theme", Some(false) => "Dark theme", None => "Theme" }}
        </button>
    }
}

/// Whether the page currently shows the dark theme (a remembered choice, else the system's).
#[cfg(feature = "hydrate")]
fn theme_is_dark() -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let chosen = window
        .document()
        .and_then(|d| d.document_element())
        .and_then(|e| e.get_attribute("data-theme"));
    match chosen.as_deref() {
        Some("dark") => true,
        Some("light") => false,
        _ => window
            .match_media("(prefers-color-scheme: dark)")
            .ok()
            .flatten()
            .is_some_and(|m| m.matches()),
    }
}

/// Applies and remembers a theme choice.
#[cfg(feature = "hydrate")]
fn set_theme(theme: &str) {
    let Some(window) = web_sys::window() else {
        return;
    };
    if let Some(root) = window.document().and_then(|d| d.document_element()) {
        let _ = root.set_attribute("data-theme", theme);
    }
    if let Ok(Some(storage)) = window.local_storage() {
        let _ = storage.set_item("tickertape-theme", theme);
    }
}
