// The console's jobs panel: cirrus-worker's job API (docs/api.md), proxied
// by the origin at /api/jobs/ (samples/nginx.conf, scripts/demo).  Job
// history by state with paging, each job's failure reason, cancel for a
// queued or running job, retry for a failed one, and a form that queues a
// job on an input URL or on a file uploaded from here: PUT to /api/uploads/
// (nginx writes the whole file into the upload folder, then renames it in;
// its client_max_body_size is the limit), then POST /jobs with the file://
// input in that folder (/api/console.json says where it is); on AWS
// ({"upload": "presigned"}) PUT straight to S3 through a URL the job API's
// POST /uploads signs, then POST /jobs with the s3:// input.  Running
// jobs show their percent and ETA, merged from the status port's running
// list (/api/worker/jobs).  deleteAsset() removes an asset from the store
// (DELETE /assets/<name>) once the operator confirms it.  The API token, when the worker
// has one, is asked for on the first 401 and kept in sessionStorage only
// (gone with the tab), sent as "Authorization: Bearer".
// Tested by tests/integration/dashboard.test.mjs.

const API = '/api/jobs';
const TOKEN_KEY = 'cirrus.apiToken';
const PAGE = 20;

export class JobsPanel {
    constructor({ el, fmtTime, onError, state }) {
        this.el = el;
        this.fmtTime = fmtTime;
        this.onError = onError;
        this.state = state; // window.cirrusDashboard: .history, .running
        this.filter = '';
        this.pages = 1; // pages shown: "more" adds one
        this.nextCursor = null;
        this.needToken = false;
        this.$ = (id) => document.getElementById(id);
        this.$('job-filter').addEventListener('change', (e) => {
            this.filter = e.target.value;
            this.pages = 1;
            this.refresh();
        });
        this.$('job-more').addEventListener('click', () => {
            this.pages++;
            this.refresh();
        });
        this.$('token-form').addEventListener('submit', (e) => {
            e.preventDefault();
            sessionStorage.setItem(TOKEN_KEY, this.$('token').value);
            this.$('token').value = '';
            this.refresh();
        });
        this.uploadDir = null;
        this.presigned = false;
        // where uploads go: nginx's upload folder beside a spool worker
        // ({"upload_dir"}), or S3 through the job API's presigned URLs
        // ({"upload": "presigned"}, the AWS layout)
        fetch('/api/console.json', { cache: 'no-store' }).then((r) => r.ok ? r.json() : null)
            .then((c) => {
                this.uploadDir = c?.upload_dir || null;
                this.presigned = !this.uploadDir && c?.upload === 'presigned';
                this.$('job-file').hidden = !this.uploadDir && !this.presigned;
            }).catch(() => {});
        this.$('job-form').addEventListener('submit', (e) => {
            e.preventDefault();
            this.submit();
        });
    }

    authHeaders() {
        const token = sessionStorage.getItem(TOKEN_KEY);
        return token ? { Authorization: `Bearer ${token}` } : {};
    }

    async call(path, { method = 'GET', body } = {}) {
        const headers = this.authHeaders();
        if (body !== undefined)
            headers['Content-Type'] = 'application/json';
        const r = await fetch(`${API}${path}`, { method, headers, cache: 'no-store',
            body: body === undefined ? undefined : JSON.stringify(body) });
        // a 401 to a request sent before the token was given asks nothing
        const sentWith = headers.Authorization || '';
        if (r.status === 401 && sentWith === (this.authHeaders().Authorization || ''))
            this.needToken = true;
        else if (r.ok)
            this.needToken = false;
        this.$('token-form').hidden = !this.needToken;
        let doc = null;
        try {
            doc = await r.json();
        } catch {
            /* not JSON: a proxy's error page */
        }
        if (!r.ok)
            throw new Error(doc?.error || `${method} ${API}${path}: HTTP ${r.status}`);
        return doc;
    }

    // The first this.pages pages of the filtered history, newest first.
    async refresh() {
        let jobs = [], cursor = null;
        try {
            for (let i = 0; i < this.pages; i++) {
                const q = new URLSearchParams({ limit: String(PAGE) });
                if (this.filter)
                    q.set('state', this.filter);
                if (cursor)
                    q.set('cursor', cursor);
                const page = await this.call(`/jobs?${q}`);
                jobs = jobs.concat(page.jobs);
                cursor = page.next_cursor;
                if (!cursor)
                    break;
            }
        } catch (e) {
            this.state.historyError = e.message;
            this.render([], e.message);
            return;
        }
        this.state.historyError = null;
        this.nextCursor = cursor;
        // ids sort by creation: the newest first
        jobs.reverse();
        this.state.history = jobs.map((j) => ({ id: j.id, state: j.state,
            progress: j.progress, error: j.error, attempt: j.attempt,
            input: j.job?.input, output: j.job?.output }));
        this.render(jobs, null);
    }

    // percent, speed and ETA of a running job from the status port's list
    live(id) {
        return (this.state.jobs || []).find((r) => r.id === id) || null;
    }

    render(jobs, error) {
        const el = this.el;
        const items = jobs.map((j) => {
            const li = el('li', { class: `job ${j.state}`, 'data-id': j.id },
                el('div', { class: 'name' }, j.id, ' ',
                    el('span', { class: `badge ${j.state}` }, j.state)),
                el('div', { class: 'meta' }, `${j.job?.input || ''} → ` +
                    `${j.job?.output || ''} · ${j.job?.preset || 'default preset'}` +
                    ` · attempt ${j.attempt ?? '–'}`));
            if (j.state === 'running') {
                const r = this.live(j.id);
                const pct = Math.max(0, Math.min(100, r?.percent ?? j.progress ?? 0));
                li.append(el('div', { class: 'meta eta' }, `${pct.toFixed(0)}%` +
                    (r ? ` · ${(r.speed || 0).toFixed(2)}× · ETA ${this.fmtTime(r.eta)}` : '')),
                el('div', { class: 'progress' }, el('div', { style: `width:${pct}%` })));
            }
            if (j.error)
                li.append(el('div', { class: 'reason' }, typeof j.error === 'string' ?
                    j.error : JSON.stringify(j.error)));
            if (j.state === 'queued' || j.state === 'running')
                li.append(el('button', { type: 'button', class: 'cancel',
                    onclick: () => this.act(j.id, 'cancel') }, 'Cancel'));
            if (j.state === 'failed')
                li.append(el('button', { type: 'button', class: 'retry',
                    onclick: () => this.act(j.id, 'retry') }, 'Retry'));
            return li;
        });
        const ul = this.$('history');
        ul.replaceChildren(...(items.length ? items : [el('li', { class: 'empty' },
            error ? `job API unavailable (${error})` :
                `no ${this.filter || ''} jobs`.replace('  ', ' '))]));
        this.$('job-more').hidden = !this.nextCursor;
    }

    // DELETE /assets/<name> after a confirmation: the asset's published
    // files leave the store (the API refuses while a job writes it).
    // Resolves true once it is gone.
    async deleteAsset(name) {
        if (!window.confirm(`Delete the asset "${name}"? Its published files ` +
            'are removed from the store and players lose it.'))
            return false;
        const status = this.$('job-status');
        try {
            const r = await this.call(`/assets/${encodeURIComponent(name)}`,
                { method: 'DELETE' });
            status.textContent = `deleted ${name} (${r.removed} files)`;
            return true;
        } catch (e) {
            status.textContent = `delete ${name}: ${e.message}`;
            this.onError(`delete ${name}: ${e.message}`);
            return false;
        }
    }

    async act(id, what) {
        try {
            await this.call(`/jobs/${encodeURIComponent(id)}/${what}`, { method: 'POST' });
        } catch (e) {
            this.onError(`${what} ${id}: ${e.message}`);
        }
        await this.refresh();
    }

    // PUT file to the upload folder (or, presigned, to S3) with its
    // progress shown; resolves to the job's file:// (s3://) input.  The
    // name gets a suffix so that an upload never replaces a file a job may
    // be reading.
    async upload(file) {
        const m = /^(.*?)(\.[A-Za-z0-9]{1,8})?$/.exec(file.name);
        const base = (m[1] || 'upload').replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 80);
        const name = `${base}-${Date.now().toString(36)}${(m[2] || '').toLowerCase()}`;
        let target = { url: `/api/uploads/${name}`, headers: this.authHeaders(),
            input: `file://${this.uploadDir}${name}` };
        if (this.presigned) {
            // the job API signs a PUT of upload_s3_uri/<name>; the browser
            // sends the file to S3 itself (no token: the URL is the grant)
            const r = await fetch(`${API}/uploads`, { method: 'POST',
                headers: { ...this.authHeaders(), 'Content-Type': 'application/json' },
                body: JSON.stringify({ name }) });
            const j = await r.json().catch(() => ({}));
            if (!r.ok)
                throw new Error(`upload ${name}: ${j.error || `HTTP ${r.status}`}`);
            target = { url: j.url, headers: {}, input: j.input };
        }
        return this.send(file, name, target);
    }

    send(file, name, target) {
        const status = this.$('job-status');
        return new Promise((resolve, reject) => {
            const x = new XMLHttpRequest();
            x.open('PUT', target.url);
            for (const [k, v] of Object.entries(target.headers))
                x.setRequestHeader(k, v);
            x.upload.onprogress = (e) => {
                if (e.lengthComputable) {
                    this.state.upload = { name, loaded: e.loaded, total: e.total };
                    status.textContent = `uploading ${name}: ` +
                        `${Math.round((e.loaded / e.total) * 100)}%`;
                }
            };
            x.onload = () => (x.status === 200 || x.status === 201 || x.status === 204 ?
                resolve(target.input) :
                reject(new Error(x.status === 413 ? `${file.name}: larger than the upload limit` :
                    `upload ${name}: HTTP ${x.status}`)));
            x.onerror = () => reject(new Error(`upload ${name}: network error`));
            x.send(file);
        });
    }

    async submit() {
        const file = this.$('job-file').files[0];
        const status = this.$('job-status');
        if (file && (this.uploadDir || this.presigned)) {
            try {
                this.$('job-input').value = await this.upload(file);
                this.$('job-file').value = '';
            } catch (e) {
                status.textContent = e.message;
                return;
            }
        }
        const body = { input: this.$('job-input').value.trim() };
        if (!body.input) {
            status.textContent = 'an input URL or a file to upload';
            return;
        }
        const preset = this.$('job-preset').value.trim();
        const output = this.$('job-output').value.trim();
        if (preset)
            body.preset = preset;
        if (output)
            body.output = output;
        try {
            const j = await this.call('/jobs', { method: 'POST', body });
            status.textContent = `queued ${j.id}`;
            this.$('job-input').value = '';
            this.$('job-output').value = '';
        } catch (e) {
            status.textContent = e.message;
        }
        await this.refresh();
    }
}
