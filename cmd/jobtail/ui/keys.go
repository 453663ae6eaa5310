package ui

import tea "github.com/charmbracelet/bubbletea"

// splitRunes splits a key message holding several typed runes into one message per rune, or
// returns nil. A loaded machine (or tmux send-keys) can deliver several presses in one read,
// which bubbletea reports as one message; as commands they are separate presses. Pastes stay
// whole.
func splitRunes(k tea.KeyMsg) []tea.KeyMsg {
	if k.Type != tea.KeyRunes || len(k.Runes) < 2 || k.Paste {
		return nil
	}
	out := make([]tea.KeyMsg, len(k.Runes))
	for i, r := range k.Runes {
		out[i] = tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}, Alt: k.Alt}
	}
	return out
}

func (m *Model) handleKeys(keys []tea.KeyMsg) tea.Cmd {
	cmds := make([]tea.Cmd, 0, len(keys))
	for _, k := range keys {
		cmds = append(cmds, m.handleKey(k))
		if m.form != nil || m.searching {
			break // the rest is text for the form or the search, which a later read delivers
		}
	}
	return tea.Batch(cmds...)
}
