-- Headless Neovim 0.7 against `dbl serve --stdio --remote auto` (the shared daemon): hover and definition on a file that mentions
-- refs of the demo log. Run by tests/editor_clients.rs as
--   DBL=... DBL_LOG=... DBL_WORKDIR=... timeout 60 nvim --headless -u NONE -c 'luafile lsp_test.lua'
-- It always ends with `qall!` (pass) or `cquit 1` (fail): an uncaught error would leave Neovim waiting.

local function log(msg)
  io.stderr:write('nvim-test: ' .. msg .. '\n')
end

local function request(buf, method, params)
  local responses, err = vim.lsp.buf_request_sync(buf, method, params, 10000)
  assert(responses, method .. ': no response: ' .. tostring(err))
  for _, response in pairs(responses) do
    assert(not response.error, method .. ': error: ' .. vim.inspect(response.error))
    return response.result
  end
  error(method .. ': empty response table')
end

local function position_of(buf, needle)
  for i, line in ipairs(vim.api.nvim_buf_get_lines(buf, 0, -1, false)) do
    local col = line:find(needle, 1, true)
    if col then
      return { line = i - 1, character = col + 1 } -- inside the ref (ASCII line: bytes = UTF-16 units)
    end
  end
  error('no ' .. needle .. ' in the buffer')
end

local function main()
  local dbl, bel, dir = os.getenv('DBL'), os.getenv('DBL_LOG'), os.getenv('DBL_WORKDIR')
  assert(dbl and bel and dir, 'set DBL, DBL_LOG and DBL_WORKDIR')
  vim.cmd('edit ' .. vim.fn.fnameescape(dir .. '/pipeline.py'))
  local buf = vim.api.nvim_get_current_buf()
  local id = vim.lsp.start_client({
    name = 'dbl',
    -- As the README's snippet: through the shared daemon for the log.
    cmd = { dbl, 'serve', '--remote', 'auto', '--log', bel, '--stdio' },
    root_dir = dir,
    init_options = { fanoutLimit = 10 },
    on_exit = function(code, signal)
      if code ~= 0 then log('dbl exited with code ' .. code .. ' signal ' .. signal) end
    end,
  })
  assert(id, 'vim.lsp.start_client failed')
  local client = vim.lsp.get_client_by_id(id)
  assert(vim.lsp.buf_attach_client(buf, id), 'buf_attach_client failed')
  assert(vim.wait(10000, function() return client.initialized end, 50), 'client not initialized within 10 s')

  -- Wait until the whole demo log is applied.
  local status
  assert(vim.wait(10000, function()
    status = request(buf, 'databuild/status', vim.empty_dict())
    return status and not status.loading and status.eventsApplied == 15
  end, 100), 'log not loaded: ' .. vim.inspect(status))

  local uri = vim.uri_from_bufnr(buf)
  local hover = request(buf, 'textDocument/hover', { textDocument = { uri = uri }, position = position_of(buf, 'data/beta') })
  assert(hover and hover.contents, 'no hover on data/beta')
  local text = hover.contents.value
  for _, expected in ipairs({ '**`data/beta`** — Live', 'd1305448-db69-5062-8c23-837705b1ceef', '`JR-456`', '`//jobs:beta`', 'Succeeded' }) do
    assert(text:find(expected, 1, true), 'hover lacks ' .. expected .. ':\n' .. text)
  end
  log('hover ok: ' .. text:gsub('\n.*', ''))

  -- Definition of data/beta = where its upstream data/alpha appears (line 2 of pipeline.py).
  local defs = request(buf, 'textDocument/definition', { textDocument = { uri = uri }, position = position_of(buf, 'data/beta') })
  assert(defs and #defs >= 1, 'no definition for data/beta: ' .. vim.inspect(defs))
  local alpha = position_of(buf, 'data/alpha')
  assert(defs[1].uri == uri, 'definition in another file: ' .. vim.inspect(defs[1]))
  assert(defs[1].range.start.line == alpha.line, 'definition not on the data/alpha line: ' .. vim.inspect(defs[1]))
  log('definition ok: ' .. defs[1].uri .. ':' .. (defs[1].range.start.line + 1))

  -- Nothing under the cursor: no hover.
  local none = request(buf, 'textDocument/hover', { textDocument = { uri = uri }, position = { line = 0, character = 0 } })
  assert(none == nil, 'hover on a comment: ' .. vim.inspect(none))

  client.stop()
  vim.wait(5000, function() return client.is_stopped() end, 50)
end

local ok, err = xpcall(main, debug.traceback)
if ok then
  log('PASS')
  vim.cmd('qall!')
else
  log('FAIL: ' .. tostring(err))
  vim.cmd('cquit 1')
end
