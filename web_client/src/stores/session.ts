// Who is signed in. The session token itself never reaches page scripts (HttpOnly cookie);
// only the CSRF token does.
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { api } from '@/apis'
import type { User } from '@/apis/types'
import { ApiError, getBearer, setBearer, setCsrf } from '@/http/request'
import { pinia } from './pinia'

export const useSessionStore = defineStore('session', () => {
  const user = ref<User | null>(null)
  /** cookie: HttpOnly session (the normal case); bearer: a hub without cookie sessions */
  const mode = ref<'cookie' | 'bearer' | null>(null)
  const isAdmin = computed(() => !!user.value?.roles.includes('admin'))

  async function restore(): Promise<boolean> {
    try {
      const s = await api.session()
      if (!s.user) throw new ApiError('unauthorized', 'no session') // the probe answers 200 with no one signed in
      setCsrf(s.csrf_token)
      user.value = s.user
      mode.value = 'cookie'
      return true
    } catch (e) {
      if (getBearer()) {
        try {
          user.value = (await api.me()).user
          mode.value = 'bearer'
          return true
        } catch {
          setBearer(null)
        }
      }
      if (e instanceof ApiError && e.code === 'unavailable' && e.status === 0) throw e
      return false
    }
  }

  async function login(username: string, password: string): Promise<void> {
    try {
      const a = await api.login(username, password, true)
      if (a.token) setBearer(a.token)
      else setCsrf(a.csrf_token ?? null)
      user.value = a.user
      mode.value = a.token ? 'bearer' : 'cookie'
    } catch (e) {
      // a hub without cookie sessions refuses the unknown `session` field
      if (e instanceof ApiError && e.code === 'bad_request') {
        const a = await api.login(username, password, false)
        setBearer(a.token ?? null)
        user.value = a.user
        mode.value = 'bearer'
        return
      }
      throw e
    }
  }

  function clear() {
    user.value = null
    mode.value = null
    setCsrf(null)
    setBearer(null)
  }

  async function logout() {
    try {
      await api.logout()
    } catch {
      /* the session is gone either way */
    }
    clear()
  }

  return { user, mode, isAdmin, restore, login, logout, clear }
})

export const useSessionStoreOutside = () => useSessionStore(pinia)
